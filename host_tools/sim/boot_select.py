"""The simulated board's bootloader: which app slot `prepay sim` starts (ESP-IDF's otadata
with rollback enabled, played on the state folder; the firmware side is
firmware/hal/sim_slots.py, which documents the states).

`boot_slot(state_dir)` returns the slot name to run ("factory" = the firmware tree the
supervisor was started with) and moves the otadata state on, exactly once per start:
"new" -> "pending" (this start tries it); "pending" at a start means the last try never fed
the watchdog, so it is "aborted" and the previous slot boots.
"""

import json
import os
from pathlib import Path

OTADATA = "otadata.json"  # firmware/hal/sim_slots.py writes the same file
CODE = "code"
FACTORY = "factory"


def _read(path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _write(path, data):
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


def boot_slot(state_dir):
    """The slot to start now (and the otadata moved on); "factory" without a usable slot."""
    path = Path(state_dir, OTADATA)
    data = _read(path)
    if not data or not slot_code(state_dir, data.get("slot")):
        return FACTORY
    state = data.get("state")
    if state == "new":
        _write(path, dict(data, state="pending"))
        return data["slot"]
    if state == "pending":  # the last start of this slot never confirmed it: roll back
        previous = data.get("previous") or FACTORY
        _write(
            path,
            {"slot": previous, "previous": FACTORY, "state": "valid", "aborted": data["slot"]},
        )
        return previous if slot_code(state_dir, previous) else FACTORY
    return data["slot"]


def slot_code(state_dir, slot):
    """The module folder of `slot`, or None for the factory firmware or a slot without one."""
    if not slot or slot == FACTORY:
        return None
    code = Path(state_dir, slot, CODE)
    return str(code) if code.is_dir() else None


def on_trial(state_dir, slot):
    """True while `slot` boots for the first time after an update (not yet confirmed): the
    watchdog then runs from the start, so a new version that hangs before its first feed is
    reset — and rolled back — like one that crashes."""
    data = _read(Path(state_dir, OTADATA))
    return bool(data) and data.get("state") == "pending" and data.get("slot") == slot
