"""What the meter's display shows: up to 4 short lines (16 characters on a 128x64 SSD1306).

Pure: built from the status dict. Page 0 is the normal view; the B key cycles the others.
"""

from token_spec.compat import const
from token_spec.units import units_text

PAGES = const(4)
_ZONE_TEXT = {
    "normal": "OK",
    "low": "LOW CREDIT",
    "zero": "NO CREDIT",
    "emergency": "EMERGENCY",
    "disconnected": "DISCONNECTED",
}


def lines(status, page=0, typing="", last_result=None):
    """The display lines for a provisioned meter's status."""
    unit = "kWh" if status["unit"] == "kwh" else ""
    credit = units_text(status["credit"], status["scale"])
    relay = "ON" if status["relay"] == "closed" else "OFF"
    top = ("CR %s %s" % (credit, unit)).strip()
    if typing:
        return [top, "> " + typing, "", "# enter * clear"]
    if page == 1:
        return [
            "ENERGY",
            "%d kWh" % (status["energy_wh"] // 1000),
            "POWER",
            "%d W" % status["power_w"],
        ]
    if page == 2:
        return ["METER", status["meter_number"], "KEY REV %d" % status["key_revision"], ""]
    if page == 3:
        days = status.get("days_remaining")
        return [
            "DAYS LEFT",
            "-" if days is None else str(days),
            "DEBT",
            units_text(status["debt"], status["scale"]),
        ]
    third = "TOKEN " + last_result.upper() if last_result else _tamper_text(status)
    return [top, _ZONE_TEXT.get(status["zone"], status["zone"]), third, "SUPPLY " + relay]


def _tamper_text(status):
    # An open cover is shown while it is open; a latched disconnect until a clear-tamper token.
    tamper = status.get("tamper") or {}
    if tamper.get("open"):
        return "TAMPER OPEN"
    return "TAMPER LATCHED" if tamper.get("latched") else ""


def unprovisioned_lines(damaged=False):
    """What a meter shows before it is provisioned, or when its journal lost its settings
    (an engineer must wipe and re-provision it: docs/firmware.md)."""
    if damaged:
        return ["STORAGE DAMAGED", "SUPPLY OFF", "CALL ENGINEER", ""]
    return ["NOT PROVISIONED", "SUPPLY OFF", "", ""]
