"""Issue 13 item 8: an open tamper switch was not shown on the display."""

from firmware.app import display

STATUS = {
    "unit": "currency",
    "credit": 1000,
    "scale": 100,
    "relay": "closed",
    "zone": "normal",
    "tamper": {"open": False, "latched": False},
}


def _with_tamper(is_open, latched):
    status = dict(STATUS)
    status["tamper"] = {"open": is_open, "latched": latched}
    return status


def test_an_open_cover_is_shown_then_a_latched_disconnect():
    assert display.lines(STATUS)[2] == ""
    assert display.lines(_with_tamper(True, False))[2] == "TAMPER OPEN"
    assert display.lines(_with_tamper(True, True))[2] == "TAMPER OPEN"
    assert display.lines(_with_tamper(False, True))[2] == "TAMPER LATCHED"
    # A token result just entered still takes the line; the tamper text comes back after it.
    assert display.lines(_with_tamper(True, False), last_result="accepted")[2] == "TOKEN ACCEPTED"
    assert all(len(line) <= 16 for line in display.lines(_with_tamper(True, True)))
