"""Helpers for test modules that run under both CPython (pytest) and MicroPython (mp_runner)."""

import sys

IS_MICROPYTHON = sys.implementation.name == "micropython"


class Skip(Exception):
    """Raised to skip a test under tests/mp_runner.py."""


def skip(reason):
    """Skip the calling test under either runner."""
    try:
        import pytest
    except ImportError:
        raise Skip(reason) from None
    pytest.skip(reason)


def raises(exc_type, func, *args, **kwargs):
    """Call func and return the exception of exc_type it raised; fail if it raised none."""
    try:
        func(*args, **kwargs)
    except exc_type as exc:
        return exc
    raise AssertionError("expected " + exc_type.__name__ + " from " + repr(func))
