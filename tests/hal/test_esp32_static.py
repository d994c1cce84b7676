"""Static gates for the board-only HAL code: hardware imports stay in firmware/hal, and every
ESP32 module compiles with mpy-cross (the board's compiler)."""

import re

from host_tools.build import mpy
from tests.helpers import ROOT

HARDWARE_IMPORT = re.compile(r"^\s*(?:import|from)\s+(machine|esp32|esp|network|neopixel)\b", re.M)


def test_only_firmware_hal_imports_hardware_modules():
    offenders = []
    for folder in ("firmware", "token_spec"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT)
            if rel.parts[:2] == ("firmware", "hal"):
                continue
            if HARDWARE_IMPORT.search(path.read_text()):
                offenders.append(str(rel))
    assert offenders == [], f"hardware modules imported outside firmware/hal: {offenders}"


def test_pure_hal_helpers_do_not_import_hardware():
    # Only esp32.py may touch machine/esp32; the esp32_* helpers run on CPython and unix.
    for path in sorted((ROOT / "firmware" / "hal").glob("esp32_*.py")):
        assert not HARDWARE_IMPORT.search(path.read_text()), path.name


def test_esp32_modules_compile_with_mpy_cross(tmp_path):
    sources = sorted((ROOT / "firmware" / "hal").glob("esp32*.py"))
    assert len(sources) >= 7
    done = mpy.compile_tree(sources, tmp_path)
    assert len(done) == len(sources)
    for _src, out in done:
        assert out.stat().st_size > 0
