"""`make typecheck` really checks the ESP32 HAL against the MicroPython ESP32 stubs.

The HAL cannot run here, so pyright is what catches a misspelt `machine` API before a board
does. These tests prove the gate both ways: the real modules pass with the project's
pyrightconfig.json, and copies of them with one wrong API call each fail it.
"""

import json
import re
import subprocess

import pytest

from tests.helpers import ROOT, venv_bin

HAL = ROOT / "firmware" / "hal"

# (module, correct text, wrong text, pyright rule that must fire). Each wrong text is an API
# misuse a board would only reveal at run time.
MUTANTS = [
    ("esp32.py", "count = self._counter.value(0)", "count = self._counter.count()",
     "reportAttributeAccessIssue"),
    ("esp32.py", "machine.WDT(timeout=", "machine.WDT(timeout_ms=", "reportCallIssue"),
    ("esp32.py", "Pin(number, Pin.IN, Pin.PULL_UP)", "Pin(number, Pin.INPUT, Pin.PULL_UP)",
     "reportAttributeAccessIssue"),
    ("esp32.py", "TYPE_DATA, label=label)", "TYPE_DATA, name=label)", "reportCallIssue"),
    # time.ticks_ms exists only in MicroPython's `time`: this fails only if pyright really
    # reads the ESP32 stubs instead of CPython's typeshed.
    ("esp32.py", "return time.ticks_ms()", "return time.ticks_msec()",
     "reportAttributeAccessIssue"),
    ("esp32.py", 'mode=machine.Timer.PERIODIC,', 'mode=machine.Timer.REPEAT,',
     "reportAttributeAccessIssue"),
    ("esp32_display.py", "framebuf.MONO_VLSB", "framebuf.MONO_VLSB_8",
     "reportAttributeAccessIssue"),
    ("esp32.py", 'freq=display["freq"]', 'baudrate=display["freq"]', "reportCallIssue"),
]  # fmt: skip


def _pyright(config_dir):
    pyright = venv_bin("pyright")
    if not pyright:
        pytest.fail("pyright is not installed: run `make test` to bootstrap .venv")
    return subprocess.run(
        [pyright, "-p", str(config_dir / "pyrightconfig.json")],
        capture_output=True,
        text=True,
        cwd=config_dir,
        timeout=120,
    )


def _project_config():
    return json.loads((ROOT / "pyrightconfig.json").read_text())


def test_stub_path_exists():
    """pyright reads MicroPython's stdlib stubs from .venv (typeshedPath), not CPython's."""
    config = _project_config()
    stdlib = ROOT / config["typeshedPath"] / "stdlib"
    assert (stdlib / "VERSIONS").exists(), (
        f"{config['typeshedPath']} has no micropython-stdlib-stubs: the venv's Python version "
        "differs from the one in pyrightconfig.json, or the stubs are not installed"
    )
    for rule in ("reportAttributeAccessIssue", "reportCallIssue", "reportArgumentType"):
        assert config[rule] == "error", rule


def test_real_modules_pass():
    proc = _pyright(ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 errors" in proc.stdout
    # The gate covers every ESP32 module, not just esp32.py.
    checked = {p.name for p in HAL.glob("esp32*.py")}
    assert {"esp32.py", "esp32_display.py", "esp32_pulse.py"} <= checked


def test_each_wrong_api_call_fails(tmp_path):
    config = _project_config()
    for key in ("venvPath", "typeshedPath"):
        config[key] = str(ROOT / config[key])
    config["extraPaths"] = [str(ROOT)]  # the mutants import the real firmware.* helpers
    config["include"] = ["mutants"]
    (tmp_path / "mutants").mkdir()
    for i, (module, right, wrong, _rule) in enumerate(MUTANTS):
        source = (HAL / module).read_text()
        assert source.count(right) == 1, f"{module}: {right!r} is no longer in the source"
        (tmp_path / "mutants" / f"m{i}_{module}").write_text(source.replace(right, wrong))
    (tmp_path / "pyrightconfig.json").write_text(json.dumps(config))

    proc = _pyright(tmp_path)
    assert proc.returncode != 0
    for i, (module, _right, wrong, rule) in enumerate(MUTANTS):
        name = f"m{i}_{module}"
        errors = re.findall(rf"{re.escape(name)}:\d+:\d+ - error: .*?\(({rule})\)", proc.stdout,
                            re.S)  # fmt: skip
        assert errors, f"pyright accepted {wrong!r} in {module}:\n{proc.stdout}"
