"""Helpers for the ESP32 HAL's shared tests (tests/shared/hal), on CPython and MicroPython."""

import json

# tests/shared/esp32_hal_support.py -> the repository root, on either interpreter.
_HERE = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
ROOT = _HERE + "/../.."
BOARDS = ROOT + "/firmware/boards"
BOARD_NAMES = ("esp32_devkitc", "esp32_devkitc_latching", "esp32s3_devkitc")


def board_json(name):
    """The parsed JSON of firmware/boards/<name>.json."""
    with open(BOARDS + "/" + name + ".json") as f:
        return json.load(f)


def copy_config(config):
    """A deep copy of a board config (dicts, lists and scalars only)."""
    return json.loads(json.dumps(config))


class RecordingI2C:
    """Stands in for machine.I2C (the real bus exists only on the board): records writes.

    `present` lists the addresses that ACK; `fail_after` makes the n-th later write raise
    OSError like a panel that stopped answering.
    """

    def __init__(self, present=(0x3C,)):
        self.present = list(present)
        self.writes = []  # (address, bytes) in order; writevto parts are joined
        self.fail_after = -1

    def scan(self):
        return list(self.present)

    def _write(self, address, data):
        if address not in self.present:
            raise OSError(19)  # ENODEV: no ACK
        if self.fail_after == 0:
            raise OSError(116)  # ETIMEDOUT half-way through
        if self.fail_after > 0:
            self.fail_after -= 1
        self.writes.append((address, bytes(data)))
        return len(data)

    def writeto(self, address, buf, stop=True):
        return self._write(address, buf)

    def writevto(self, address, vector, stop=True):
        joined = bytearray()
        for part in vector:
            joined.extend(part)
        return self._write(address, joined)
