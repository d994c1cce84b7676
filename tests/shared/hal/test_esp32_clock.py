"""RTC tuple <-> meter seconds conversion of the ESP32 HAL (both interpreters)."""

import support

from firmware.hal.esp32_clock import rtc_to_seconds, seconds_to_rtc


def test_epoch_and_known_dates():
    # 2020-01-01 00:00:00 was a Wednesday (weekday 2, Monday = 0).
    assert rtc_to_seconds((2020, 1, 1, 2, 0, 0, 0, 0)) == 0
    assert rtc_to_seconds((2020, 1, 2, 3, 0, 0, 1, 0)) == 86401
    # 2024-03-01: 2020 (leap, 366) + 2021..2023 (3 x 365) + Jan 31 + Feb 29 = 1521 days.
    assert rtc_to_seconds((2024, 3, 1, 4, 12, 30, 15, 999)) == 1521 * 86400 + 45015
    # The TID counter's 24-bit wrap (2**24 minutes after 2020-01-01) is 2051-11-24 20:16.
    assert rtc_to_seconds((2051, 11, 24, 4, 20, 16, 0, 0)) == (1 << 24) * 60


def test_seconds_to_rtc_has_weekday_and_zero_subseconds():
    assert seconds_to_rtc(0) == (2020, 1, 1, 2, 0, 0, 0, 0)
    assert seconds_to_rtc(1521 * 86400 + 45015) == (2024, 3, 1, 4, 12, 30, 15, 0)
    # 2026-11-22 is a Sunday.
    sunday = rtc_to_seconds((2026, 11, 22, 6, 23, 59, 59, 0))
    assert seconds_to_rtc(sunday) == (2026, 11, 22, 6, 23, 59, 59, 0)


def test_round_trip_over_decades():
    seconds = 0
    while seconds < 40 * 366 * 86400:
        assert rtc_to_seconds(seconds_to_rtc(seconds)) == seconds
        seconds += 7_777_777  # about 90 days and an odd number of seconds


def test_unset_rtc_and_negative_times_are_refused():
    # An ESP32 RTC without backup power restarts at 2000-01-01.
    support.raises(ValueError, rtc_to_seconds, (2000, 1, 1, 5, 0, 0, 12, 0))
    support.raises(ValueError, seconds_to_rtc, -1)
