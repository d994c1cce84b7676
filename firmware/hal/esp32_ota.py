"""ESP32 app slots for field updates: the OTA partitions (ota_0/ota_1 + otadata) that
`prepay device flash` lays out (docs/firmware.md, "Partition layout" and "Field updates").

A bundle's payload is a whole app image (the OTA build with the meter frozen in): it is written
to `Partition(RUNNING).get_next_update()`, `set_boot()` makes the bootloader try it at the next
reset, and the first healthy watchdog feed of the new firmware calls
`mark_app_valid_cancel_rollback()`. MicroPython's ESP32 builds enable the bootloader's app
rollback (CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE in ports/esp32/boards/sdkconfig.base), so a
new image that resets before that call — a crash, a watchdog reset, a power cut — is abandoned
and the previous slot boots. The journal partition is never opened here.

Board-only (imports esp32); type-checked by pyright.
"""

import esp32

BLOCK = 4096
# On the filesystem while a new slot is on trial: the HAL starts the watchdog at boot instead of
# at the first feed, so a new image that hangs before its loop is reset and rolled back too.
TRIAL_FILE = "/update_trial"


def _running():
    # Partition(RUNNING) is MicroPython's documented form; the stubs only know Partition(label).
    return esp32.Partition(esp32.Partition.RUNNING)  # pyright: ignore[reportArgumentType]


class OtaSlot:
    """The next update partition, erased and written block by block from offset 0."""

    def __init__(self, size):
        try:
            self.part = _running().get_next_update()
        except OSError:
            raise ValueError(
                "no second app slot: flash the OTA image with `prepay device flash`"
            ) from None
        info = self.part.info()
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
        self.part.writeblocks(self._block, self._buf)  # the two-argument form erases first
        self._block += 1
        self._fill = 0

    def commit(self):
        if self._fill:
            self._flush()

    def discard(self):
        # An erased first block is not an app image: set_boot and the bootloader refuse it.
        self.part.ioctl(6, 0)


def update_slot(kind, size):
    if kind != "esp32-app":
        raise ValueError("an ESP32 meter takes esp32-app bundles, not %s" % kind)
    return OtaSlot(size)


def set_boot(slot):
    """Validate the written image and make it the boot slot (OSError if it is not valid)."""
    slot.part.set_boot()
    with open(TRIAL_FILE, "w") as f:
        f.write(slot.name)


def running_slot():
    return _running().info()[4]


def on_trial():
    try:
        open(TRIAL_FILE).close()
        return True
    except OSError:
        return False


def confirm():
    """The running image works: cancel the rollback (harmless on an image flashed by esptool)."""
    try:
        esp32.Partition.mark_app_valid_cancel_rollback()
    except OSError:
        pass  # firmware without rollback support: nothing to cancel
    try:
        import os

        os.remove(TRIAL_FILE)
    except OSError:
        pass
