"""Run every benchmark in bench/ (each is a module with a ``main()``)."""

from __future__ import annotations

print("no benchmarks yet")
