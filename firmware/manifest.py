# The modules frozen into a meter's interpreter: `FROZEN_MANIFEST` for MicroPython's build.
#   unix port, 32-bit (the simulator's board stand-in): `make firmware` -> build/micropython-unix32
#   ESP32: make -C ports/esp32 BOARD=ESP32_GENERIC FROZEN_MANIFEST=/abs/path/firmware/manifest.py
# (docs/firmware.md, Building for a board). Not a firmware module: mpy-cross/deploy skip it.
# MicroPython's tools run this file with the working directory set to its folder (firmware/).
# ruff: noqa: F821  (freeze/include/package are the manifest API, given by MicroPython's tools)
import os

# Folders that never go to a board (as host_tools/build/mpy.py SKIP_DIRS).
_SKIP_DIRS = ("__pycache__", "tests", "vectors")


def _modules(package_dir):
    """Every .py file below package_dir (relative to it), without this manifest."""
    found = []
    for dirpath, dirnames, filenames in os.walk(package_dir):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS)
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            if name.endswith(".py") and os.path.abspath(path) != os.path.abspath("manifest.py"):
                found.append(os.path.relpath(path, package_dir))
    return found


# A board keeps its port's own frozen modules: on the ESP32, _boot.py mounts the filesystem and
# machine.py adds machine.Counter, which the HAL counts pulses with (this manifest replaces the
# board's, whose other entries are network libraries the meter does not use). The unix port
# has no such folder.
try:
    freeze("$(PORT_DIR)/modules")
except FileNotFoundError:
    pass
# asyncio as the ports ship it (the app's runner is built on it).
include("$(MPY_DIR)/extmod/asyncio")
# The meter: firmware (app, core, HALs incl. ESP32's: compiled here, imported only on a board)
# and token_spec without its test vectors (vectors/generate.py is a host tool).
package("firmware", files=_modules("../firmware"), base_path="..")
package("token_spec", files=_modules("../token_spec"), base_path="..")
# umqtt.simple, the networked meter's MQTT client (firmware/net): micropython-lib's, fetched
# from PyPI into build/mplib by `make mplib` (host_tools/build/mplib.py). Frozen like the meter,
# so a frozen interpreter runs with `.frozen` alone on its path (host_tools/sim/supervisor.py).
if not os.path.isfile("../build/mplib/umqtt/simple.py"):
    raise SystemExit("firmware/manifest.py: build/mplib/umqtt/simple.py missing: run `make mplib`")
package("umqtt", files=_modules("../build/mplib/umqtt"), base_path="../build/mplib")
