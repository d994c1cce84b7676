"""What the alarm LED and buzzer do in each credit zone, pure.

The app calls `hal.indicate(zone)` every loop; the HAL beeps only when the zone changes, so
a customer hears one short burst per crossing (the beep count says how serious it is) and
the LED stays lit for as long as the meter is anywhere but in normal credit.
"""

# Beeps on entering a zone. Zone names are the core's (docs/core.md); a zone not listed here
# is treated as an alarm with one beep rather than silently ignored.
_BEEPS = {
    "normal": 0,
    "low": 1,
    "low_credit": 1,
    "emergency": 2,
    "zero": 2,
    "friendly": 0,
    "disconnected": 3,
}


def zone_signal(zone):
    """(led_on, beeps) for a zone name."""
    if zone is None or zone == "normal":
        return False, 0
    return True, _BEEPS.get(zone, 1)
