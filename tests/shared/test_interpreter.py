"""Proves which interpreter ran the shared tests (checked by tests/test_foundation.py)."""

import os
import sys


def test_runs_on_expected_interpreter():
    # tests/test_foundation.py sets PREPAY_EXPECT_IMPL when it runs this module under micropython;
    # under plain pytest the expectation is CPython.
    expected = os.getenv("PREPAY_EXPECT_IMPL") or "cpython"
    assert sys.implementation.name == expected, sys.implementation.name


def test_const_shim_imports_on_both():
    from token_spec.compat import IS_MICROPYTHON, const

    assert const(7) == 7
    assert IS_MICROPYTHON == (sys.implementation.name == "micropython")
