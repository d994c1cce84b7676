"""ESP32 app slots for field updates, the pure part: writing an app image block by block into
the spare OTA partition, and the trial marker. The partition calls themselves
(`Partition(RUNNING).get_next_update()`, `set_boot()`, `mark_app_valid_cancel_rollback()`) are
in firmware/hal/esp32.py; docs/firmware.md, "Field updates", has the whole design.

A bundle's payload is a whole app image (the OTA build with the meter frozen in). After it is
written and checked, `set_boot()` makes the bootloader try it at the next reset, and the first
healthy watchdog feed of the new firmware cancels the rollback. MicroPython's ESP32 builds
enable the bootloader's app rollback (CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE in
ports/esp32/boards/sdkconfig.base), so a new image that resets before that — a crash, a
watchdog reset, a power cut — is abandoned and the previous slot boots. The journal partition
is never opened here. Runs on CPython and the unix port too (tested with a file partition).
"""

import os

BLOCK = 4096
ERASE_BLOCK = 6  # the block-device ioctl that erases one block
# On the filesystem while a new slot is on trial: the HAL starts the watchdog at boot instead of
# at the first feed, so a new image that hangs before its loop is reset and rolled back too.
TRIAL_FILE = "/update_trial"


class OtaSlot:
    """The spare app partition `part` (block-device protocol, `info()` as esp32.Partition),
    erased and written whole block by whole block from offset 0."""

    def __init__(self, part, size):
        info = part.info()  # (type, subtype, addr, size, label, encrypted)
        self.part = part
        self.name = info[4]
        if size > info[3]:
            raise ValueError("bundle of %d bytes > slot %s of %d" % (size, self.name, info[3]))
        self._buf = bytearray(BLOCK)
        self._fill = 0
        self._block = 0

    def write(self, offset, data):
        view = memoryview(data)
        while len(view):
            n = min(BLOCK - self._fill, len(view))
            self._buf[self._fill : self._fill + n] = view[:n]
            self._fill += n
            view = view[n:]
            if self._fill == BLOCK:
                self._flush()

    def _flush(self):
        for i in range(self._fill, BLOCK):
            self._buf[i] = 0xFF
        self.part.ioctl(ERASE_BLOCK, self._block)
        self.part.writeblocks(self._block, self._buf, 0)
        self._block += 1
        self._fill = 0

    def commit(self):
        if self._fill:
            self._flush()

    def discard(self):
        # An erased first block is not an app image: set_boot and the bootloader refuse it.
        self.part.ioctl(ERASE_BLOCK, 0)


def check_kind(kind):
    if kind != "esp32-app":
        raise ValueError("an ESP32 meter takes esp32-app bundles, not %s" % kind)


def start_trial(name, path=TRIAL_FILE):
    with open(path, "w") as f:
        f.write(name)


def on_trial(path=TRIAL_FILE):
    try:
        open(path).close()
        return True
    except OSError:
        return False


def end_trial(path=TRIAL_FILE):
    try:
        os.remove(path)
    except OSError:
        pass
