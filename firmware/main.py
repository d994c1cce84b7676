"""Meter firmware entry point (`/main.py` on the board; `micropython -m firmware.main` in the
simulator). Picks the HAL, boots the app (journal restore and relay first), runs the loop.

HAL selection: the unix port with PREPAY_SIM_STATE set runs the simulator HAL on that folder
(PREPAY_SIM_SPEED = virtual seconds per real second); anything else is an ESP32 board whose pin
map is /board.json if present, else firmware/boards/esp32_devkitc.json.
"""

import sys

BOARD_FILES = ("/board.json", "/firmware/boards/esp32_devkitc.json")


def _getenv(name):
    import os

    getenv = getattr(os, "getenv", None)
    return getenv(name) if getenv is not None else None


def select_hal():
    """The HAL for where we run: (hal, production) — production builds block Ctrl-C."""
    state = _getenv("PREPAY_SIM_STATE")
    if state:
        from firmware.hal import sim

        speed = sim.parse_speed(_getenv("PREPAY_SIM_SPEED") or "1")
        return sim.create({"state_dir": state, "speed_milli": speed}), False
    if sys.platform != "esp32":
        raise SystemExit("not a board: set PREPAY_SIM_STATE to run the simulator")
    import json

    from firmware.hal import esp32

    for path in BOARD_FILES:
        try:
            with open(path) as f:
                return esp32.create(json.load(f)), True
        except OSError:
            continue
    raise SystemExit("no board pin map found (tried %s)" % ", ".join(BOARD_FILES))


def main():
    """Boot and run the meter; never returns on a board."""
    hal, production = select_hal()
    if production:
        import micropython

        micropython.kbd_intr(-1)  # Ctrl-C is data: the REPL cannot be reached over serial
    from firmware.app.meter_app import MeterApp
    from firmware.app.runner import run
    from firmware.app.serial_port import StdioPort

    app = MeterApp(hal)
    app.boot()
    run(app, StdioPort(chunked=getattr(hal, "serial_chunked", False)))


if __name__ == "__main__":
    main()
