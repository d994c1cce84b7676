"""Alarm LED and buzzer patterns per credit zone (both interpreters)."""

from firmware.core import policy
from firmware.hal.esp32_indicate import zone_signal


def test_normal_is_quiet_and_dark():
    assert zone_signal(policy.NORMAL) == (False, 0)
    assert zone_signal("normal") == (False, 0)
    assert zone_signal(None) == (False, 0)


def test_alarm_zones_light_the_led_and_beep_more_when_worse():
    low = zone_signal(policy.LOW)
    zero = zone_signal(policy.ZERO)
    off = zone_signal(policy.DISCONNECTED)
    assert low[0] and zero[0] and off[0] and zone_signal(policy.EMERGENCY)[0]
    assert 1 <= low[1] < zero[1] < off[1]
    assert zone_signal("disconnected") == off


def test_unknown_zone_is_an_alarm_not_silence():
    assert zone_signal(99) == (True, 1)
    assert zone_signal("meltdown") == (True, 1)
