"""Plain helpers for CPython tests (import as `from tests.helpers import ...`)."""

import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def venv_bin(name):
    """A tool installed next to this interpreter (the project's .venv), else from PATH."""
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else shutil.which(name)


def mp_env(**extra):
    """Environment for a micropython child process."""
    env = dict(os.environ)
    env.update(extra)
    return env
