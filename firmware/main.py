"""Meter firmware entry point (`/main.py` on the board; `micropython -m firmware.main` in the
simulator). Picks the HAL, boots the app (journal restore and relay first), runs the loop.

HAL selection: the unix port with PREPAY_SIM_STATE set runs the simulator HAL on that folder
(PREPAY_SIM_SPEED = virtual seconds per real second); anything else is an ESP32 board whose pin
map is /board.json if present, else the one file in /firmware/boards (esp32_devkitc.json when
`prepay device deploy` copied several).
"""

import sys

BOARDS_DIR = "/firmware/boards"
DEFAULT_BOARD = "esp32_devkitc.json"


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

    path = board_file()
    with open(path) as f:
        return esp32.create(json.load(f)), True


def board_file():
    """The pin map to use on a board (see the module docstring)."""
    import os

    try:
        os.stat("/board.json")
        return "/board.json"
    except OSError:
        pass
    try:
        found = [n for n in os.listdir(BOARDS_DIR) if n.endswith(".json")]
    except OSError:
        found = []
    if len(found) == 1:
        return BOARDS_DIR + "/" + found[0]
    if DEFAULT_BOARD in found:
        return BOARDS_DIR + "/" + DEFAULT_BOARD
    raise SystemExit("no board pin map: put one in %s or /board.json" % BOARDS_DIR)


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
