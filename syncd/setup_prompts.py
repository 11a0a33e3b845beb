"""The questions `syncd setup` asks: a :class:`Terminal` for a person (defaults in brackets,
the key read without echo through :mod:`getpass`), and :class:`Scripted` for ``--yes``, which
never asks: it takes each default, and where there is none it stops with the flag to give.

Both have the same few methods, so the setup of each target is written once. Ctrl-C while a
question waits is a :class:`KeyboardInterrupt` that reaches :func:`syncd.cli.main` (exit 130);
nothing is written before the last question is answered.
"""

from __future__ import annotations

import getpass
import sys
from collections.abc import Callable, Sequence
from typing import Protocol

from syncd.core.text import shown
from syncd.errors import UsageError


class UI(Protocol):
    """What a target's setup may ask and say."""

    interactive: bool

    def say(self, line: str = "") -> None: ...

    def ask(self, question: str, default: str | None, *, flag: str) -> str:
        """A line of text (``default`` when the answer is empty; ``flag`` gives it in a
        script)."""
        ...

    def secret(self, question: str, *, flag: str) -> str:
        """A line typed without echo (an API key)."""
        ...

    def confirm(self, question: str, default: bool, *, flag: str | None = None) -> bool: ...

    def choose(self, question: str, options: Sequence[str], default: int, *, flag: str) -> int:
        """The index of one of ``options`` (listed 1..n; ``default`` is an index)."""
        ...


class Terminal:
    """A person at a terminal (or whatever stdin is: answers may be piped in)."""

    interactive = True

    def __init__(
        self,
        read: Callable[[str], str] = input,
        read_secret: Callable[[str], str] = getpass.getpass,
    ) -> None:
        self._read = read
        self._read_secret = read_secret

    def say(self, line: str = "") -> None:
        _say(line)

    def _line(self, prompt: str, reader: Callable[[str], str]) -> str:
        try:
            return reader(prompt).strip()
        except EOFError:
            # stdin closed (Ctrl-D, or a pipe that ran dry): nothing written, as for Ctrl-C.
            sys.stderr.write("\n")
            raise UsageError(
                "setup stopped: no answer (end of input); nothing was written",
                hint="run 'syncd setup' in a terminal, or 'syncd setup --yes' with flags",
            ) from None

    def ask(self, question: str, default: str | None, *, flag: str) -> str:
        shown_default = f" [{default}]" if default else ""
        answer = self._line(f"{question}{shown_default}: ", self._read)
        return answer or (default or "")

    def secret(self, question: str, *, flag: str) -> str:
        return self._line(f"{question}: ", self._read_secret)

    def confirm(self, question: str, default: bool, *, flag: str | None = None) -> bool:
        choices = "Y/n" if default else "y/N"
        while True:
            answer = self._line(f"{question} [{choices}]: ", self._read).lower()
            if not answer:
                return default
            if answer in ("y", "yes"):
                return True
            if answer in ("n", "no"):
                return False
            self.say("  please answer y or n")

    def choose(self, question: str, options: Sequence[str], default: int, *, flag: str) -> int:
        for n, option in enumerate(options, 1):
            self.say(f"  {n}. {option}")
        while True:
            answer = self._line(f"{question} [{default + 1}]: ", self._read)
            if not answer:
                return default
            if answer.isdigit() and 1 <= int(answer) <= len(options):
                return int(answer) - 1
            self.say(f"  please answer with a number from 1 to {len(options)}")


class Scripted:
    """``--yes``: every question takes its default; one without a default stops setup with
    the flag that answers it (exit 2, nothing written)."""

    interactive = False

    def say(self, line: str = "") -> None:
        _say(line)

    def ask(self, question: str, default: str | None, *, flag: str) -> str:
        if default is None:
            raise _needs(question, flag)
        return default

    def secret(self, question: str, *, flag: str) -> str:
        raise _needs(question, flag)

    def confirm(self, question: str, default: bool, *, flag: str | None = None) -> bool:
        return default

    def choose(self, question: str, options: Sequence[str], default: int, *, flag: str) -> int:
        return default


def _say(line: str) -> None:
    """One line for the person: names in it are escaped (:func:`syncd.core.text.shown`)."""
    sys.stdout.write(shown(line) + "\n")
    sys.stdout.flush()


def _needs(what: str, flag: str) -> UsageError:
    return UsageError(
        f"--yes asks nothing, and {what} has no default: it must come from a flag",
        hint=f"give it with {flag}",
    )
