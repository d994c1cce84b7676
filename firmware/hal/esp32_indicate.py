"""What the alarm LED and buzzer do in each credit zone, pure.

The app calls `hal.indicate(meter.zone)` every loop with the core's zone number
(firmware/core/policy.py: 0 normal, 1 low, 2 zero, 3 emergency, 4 disconnected); the HAL
beeps only when the zone changes, so a customer hears one short burst per crossing (more
beeps = more serious) and the LED stays lit while the meter is anywhere but in normal credit.
"""

from firmware.core.policy import ZONE_NAMES

# Beeps on entering each zone, by zone name (names, not numbers, so a renumbering in the core
# cannot silently shift them).
_BEEPS = {"normal": 0, "low": 1, "zero": 2, "emergency": 2, "disconnected": 3}


def zone_signal(zone):
    """(led_on, beeps) for a zone number or name; an unknown zone is an alarm with one beep."""
    name = zone
    if isinstance(zone, int):
        name = ZONE_NAMES[zone] if 0 <= zone < len(ZONE_NAMES) else "?"
    if name is None or name == "normal":
        return False, 0
    return True, _BEEPS.get(str(name), 1)
