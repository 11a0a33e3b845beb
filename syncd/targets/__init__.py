"""Targets: the libraries syncd writes to (see :mod:`syncd.targets.base`)."""
