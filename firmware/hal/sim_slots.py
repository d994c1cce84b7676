"""The simulated board's two app slots and its `otadata`, as the running firmware sees them.

The state folder holds `ota_0/` and `ota_1/` (each: `image.bin` as received, `code/` the
unpacked modules the supervisor runs) and `otadata.json`, {"slot", "previous", "state"}: which
slot boots and in what state, like ESP-IDF's otadata with rollback enabled:

- "new": set by `set_boot` after an update was written and checked;
- "pending": the boot selector (host_tools/sim/boot_select.py, the simulated bootloader)
  starts a "new" slot and marks it so;
- "valid": `confirm` (the first watchdog feed of a healthy loop) marks the running slot good;
- a slot still "pending" at the next start never fed the watchdog: the selector boots
  "previous" again (the factory code when that is "factory") and records "aborted".

The firmware's running slot arrives in PREPAY_SIM_SLOT ("factory" when none is set).
Everything is written with write-then-rename, so a power cut leaves the old or the new file.
"""

import json
import os

from firmware.hal.sim import running_slot

SLOTS = ("ota_0", "ota_1")
OTADATA = "/otadata.json"  # host_tools/sim/boot_select.py reads the same file
IMAGE = "/image.bin"
CODE = "/code"
_DIR_MODE = 0x4000


def _remove_tree(path):
    try:
        mode = os.stat(path)[0]
    except OSError:
        return
    if mode & _DIR_MODE:
        for name in os.listdir(path):
            _remove_tree(path + "/" + name)
        os.rmdir(path)
    else:
        os.remove(path)


def _make_dirs(path):
    at = ""
    for part in path.split("/"):
        if not part:
            continue
        at += "/" + part
        try:
            os.mkdir(at)
        except OSError:
            pass


def read_otadata(state_dir):
    try:
        with open(state_dir + OTADATA) as f:
            return json.loads(f.read())
    except (OSError, ValueError):
        return None


def write_otadata(state_dir, data):
    tmp = state_dir + OTADATA + ".tmp"
    with open(tmp, "w") as f:
        f.write(json.dumps(data))
    os.rename(tmp, state_dir + OTADATA)


class SimSlot:
    """The inactive slot, erased and written from offset 0 up."""

    def __init__(self, state_dir, name):
        self.state_dir = state_dir
        self.name = name
        self.path = state_dir + "/" + name
        _remove_tree(self.path)  # "erase" the slot
        os.mkdir(self.path)
        self._f = open(self.path + IMAGE, "wb")

    def write(self, offset, data):
        self._f.write(data)

    def commit(self):
        """Unpack the archive into `code/` (the supervisor's module path for this slot)."""
        from token_spec.update_bundle import unpack_files  # only when an update completes

        self._f.close()
        with open(self.path + IMAGE, "rb") as f:
            for path, size in unpack_files(f.read):
                target = self.path + CODE + "/" + path
                _make_dirs(target.rsplit("/", 1)[0])
                with open(target, "wb") as out:
                    while size:
                        data = f.read(size if size < 1024 else 1024)
                        if not data:
                            raise ValueError("archive is truncated")
                        out.write(data)
                        size -= len(data)

    def discard(self):
        try:
            self._f.close()
        except OSError:
            pass
        _remove_tree(self.path)


def update_slot(state_dir, kind, size):
    """The inactive slot, erased, for a payload of `kind` (only "mpy" runs on the unix port)."""
    if kind != "mpy":
        raise ValueError("the simulator runs mpy bundles, not %s" % kind)
    running = running_slot()
    return SimSlot(state_dir, SLOTS[1] if running == SLOTS[0] else SLOTS[0])


def set_boot(state_dir, slot):
    write_otadata(state_dir, {"slot": slot.name, "previous": running_slot(), "state": "new"})


def confirm(state_dir):
    """Mark the running slot valid if it was waiting for that (the first healthy feed)."""
    data = read_otadata(state_dir)
    if data is not None and data.get("state") == "pending" and data.get("slot") == running_slot():
        data["state"] = "valid"
        write_otadata(state_dir, data)
