"""TID extension and memory rules; amount encoding."""

from token_vectors_support import error_of

import token_spec as ts

EPOCH = 1 << 24
HALF = 1 << 23


def test_tid_from_time_is_minutes_since_2020():
    assert ts.tid_from_time(0) == 0
    assert ts.tid_from_time(59) == 0
    assert ts.tid_from_time(60) == 1
    # 2024-11-24T00:00Z is 1789 days after 2020-01-01.
    assert ts.tid_from_time(1789 * 86400) == 1789 * 1440
    assert isinstance(error_of(ts.tid_from_time, -1), ValueError)


AHEAD = 1 << 20  # SPEC.md 7.2: at most 2**20 minutes (about 2 years) ahead of the reference


def test_extend_tid_recovers_recent_and_slightly_future_tids():
    assert ts.extend_tid(100, 50) == 100
    assert ts.extend_tid(50, 100) == 50
    assert ts.extend_tid(5, EPOCH - 10) == EPOCH + 5  # forward across the epoch
    assert ts.extend_tid(EPOCH - 10, EPOCH + 5) == EPOCH - 10  # backward across it
    assert ts.extend_tid(7, 3 * EPOCH + 1) == 3 * EPOCH + 7
    assert ts.extend_tid(EPOCH - 1, 3 * EPOCH) == 3 * EPOCH - 1
    assert ts.extend_tid(123, 3 * EPOCH + 200) == 3 * EPOCH + 123


def test_extend_tid_window_is_2_pow_20_ahead_and_the_rest_behind():
    ref = 3 * EPOCH
    assert ts.TID_AHEAD == AHEAD
    assert ts.extend_tid(AHEAD, ref) == ref + AHEAD  # the last future minute
    # One minute further ahead is read as the past: 2**24 - 2**20 - 1 minutes behind.
    assert ts.extend_tid(AHEAD + 1, ref) == ref + AHEAD + 1 - EPOCH
    assert ts.extend_tid(AHEAD + 1, ref + 1) == ref + AHEAD + 1  # the window moves with ref


def test_extend_tid_more_than_half_an_epoch_behind_is_past_not_future():
    ref = 3 * EPOCH
    assert ts.extend_tid(HALF - 1, ref) == ref - HALF - 1  # the symmetric rule said ref+HALF-1
    assert ts.extend_tid(HALF, ref) == ref - HALF
    assert ts.extend_tid(10, HALF + 10) == 10  # exactly 2**23 behind: still the past
    # The 16-year replay: a 2026 token after 16 years of monthly tokens comes back as itself.
    sold = 3500000  # 2026-08-27, minutes since 2020
    sixteen_years_later = sold + 16 * 525960
    assert ts.extend_tid(sold, sixteen_years_later) == sold


def test_extend_tid_is_never_negative_near_the_epoch():
    assert ts.extend_tid(HALF, 0) == HALF
    assert ts.extend_tid(HALF + 1, 0) == HALF + 1
    assert ts.extend_tid(EPOCH - 1, 0) == EPOCH - 1
    assert ts.extend_tid(AHEAD + 1, 0) == AHEAD + 1
    assert isinstance(error_of(ts.extend_tid, EPOCH, 0), ValueError)
    assert isinstance(error_of(ts.extend_tid, 0, -1), ValueError)


def test_tid_reference_is_the_later_of_high_water_and_the_clock():
    assert ts.tid_reference(100, 0) == 100  # clock not set: the high-water mark
    assert ts.tid_reference(100, 6000 * 60 + 59) == 6000
    assert ts.tid_reference(6000, 100 * 60) == 6000  # clock behind the tokens it has seen
    assert ts.tid_reference(0, -3600) == 0


def test_tid_memory_used_old_and_eviction():
    memory = []
    high = None
    for tid in range(1000, 1000 + ts.TID_MEMORY_SIZE):
        assert ts.tid_status(tid, memory) is None
        high = ts.remember_tid(tid, memory)
    assert high == 1000 + ts.TID_MEMORY_SIZE - 1
    assert len(memory) == ts.TID_MEMORY_SIZE
    assert ts.tid_status(1000, memory) == ts.RESULT_USED
    assert ts.tid_status(999, memory) == ts.RESULT_OLD  # full, older than the oldest
    assert ts.tid_status(5000, memory) is None
    ts.remember_tid(5000, memory)
    assert 1000 not in memory and len(memory) == ts.TID_MEMORY_SIZE
    assert ts.tid_status(1000, memory) == ts.RESULT_OLD
    assert ts.tid_status(1001, memory) == ts.RESULT_USED


def test_tid_memory_not_full_accepts_older_unseen_tokens():
    memory = []
    ts.remember_tid(500, memory)
    assert ts.tid_status(10, memory) is None  # nothing was ever evicted
    assert ts.remember_tid(10, memory) == 500  # high-water mark stays the largest


def test_amount_boundaries():
    assert ts.MAX_AMOUNT == 16383 * 1000
    representable = [0, 1, 16383, 16390, 163830, 163900, 1638300, 1639000, 16383000]
    for amount in representable:
        assert ts.is_representable(amount), amount
        assert ts.decode_amount(ts.encode_amount(amount)) == amount
    for amount in (16384, 16389, 163831, 163850 + 1, 1638301, 16383001, -1):
        assert not ts.is_representable(amount), amount
    assert ts.nearest_representable(16384) == (16383, 16390)
    assert ts.nearest_representable(16391) == (16390, 16400)
    assert ts.nearest_representable(163831) == (163830, 163900)
    assert ts.nearest_representable(1638301) == (1638300, 1639000)
    assert ts.nearest_representable(16383001) == (16383000, None)
    assert ts.nearest_representable(-5) == (None, 0)
    assert ts.nearest_representable(777) == (777, 777)


def test_amount_encoding_is_canonical():
    assert ts.encode_amount(16383) == 16383  # exponent 0
    assert ts.encode_amount(16390) == (1 << 14) | 1639
    assert ts.encode_amount(100) == 100  # smallest exponent, not 1 x 10**2
    assert ts.encode_amount(16383000) == (3 << 14) | 16383
    assert ts.decode_amount((2 << 14) | 1) == 100  # non-canonical still decodes


def test_amount_rejects_non_integers():
    for bad in (1.0, "5", True):
        assert isinstance(error_of(ts.is_representable, bad), ValueError)
        assert isinstance(error_of(ts.encode_amount, bad), ValueError)


def test_lockout_schedule():
    assert [ts.lockout_seconds(k) for k in range(0, 14)] == [
        0, 0, 0, 0, 10, 20, 40, 80, 160, 320, 640, 1280, 1280, 1280
    ]  # fmt: skip
    assert ts.lockout_seconds(10**6) == ts.LOCKOUT_MAX_SECONDS == 1280
    assert ts.lockout_remaining(100, 100) == 0
    assert ts.lockout_remaining(110, 100) == 10
    assert ts.lockout_remaining(10**9, 100) == 1280  # clock set back: capped
