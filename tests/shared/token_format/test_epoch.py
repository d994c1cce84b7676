"""The token epoch and meter time (token_spec.epoch), on both interpreters."""

from token_vectors_support import error_of

from token_spec.epoch import EPOCH_UNIX, meter_time
from token_spec.tid import tid_from_time

DAY = 86400


def test_meter_time_counts_seconds_from_the_epoch():
    assert meter_time(EPOCH_UNIX) == 0
    assert meter_time(EPOCH_UNIX + 59) == 59
    assert meter_time(EPOCH_UNIX + 1789 * DAY) == 1789 * DAY


def test_meter_time_truncates_fractions_of_a_second():
    assert meter_time(EPOCH_UNIX + 5.75) == 5


def test_meter_time_defaults_to_now():
    now = meter_time()
    assert now > 1789 * DAY  # later than 2024-11-24
    assert tid_from_time(now) == now // 60


def test_a_unix_time_before_the_epoch_gives_no_tid():
    assert isinstance(error_of(tid_from_time, meter_time(EPOCH_UNIX - 60)), ValueError)
