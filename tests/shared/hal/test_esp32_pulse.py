"""The ESP32 HAL's pulse plausibility filter and bench pulse train (both interpreters)."""

import support

from firmware.hal.esp32_pulse import (
    S0_MIN_PERIOD_US,
    PulsePlausibility,
    PulseTrain,
    min_pulse_period_us,
)

# 24 kW (100 A x 240 V) at 1000 imp/kWh: 24,000 pulses an hour, one every 3600/24000 s = 150 ms.
MAX_W = 24000
PPK = 1000
PERIOD_US = 150_000


def test_period_at_max_power_is_the_physics():
    assert min_pulse_period_us(MAX_W, PPK) == PERIOD_US
    # 25 % headroom: 30 kW worth of pulses, one every 120 ms.
    assert min_pulse_period_us(MAX_W, PPK, 25) == 120_000


def test_period_never_below_s0_limit():
    # 10,000 imp/kWh at 24 kW would be a pulse every 15 ms, which S0 (30 ms on + 30 ms off)
    # cannot carry: anything faster than 60 ms is noise.
    assert min_pulse_period_us(MAX_W, 10_000) == S0_MIN_PERIOD_US == 60_000


def test_period_rejects_nonsense():
    for args in ((0, PPK), (MAX_W, 0), (-5, PPK), (MAX_W, PPK, -1)):
        support.raises(ValueError, min_pulse_period_us, *args)


def _split(flt, count, elapsed_ms):
    billed = flt.accept(count, elapsed_ms)
    return billed, flt.rejected


def _run_periodic(flt, period_ms, window_ms, duration_ms, phase_ms=0):
    """Pulses every period_ms, read every window_ms (streamed: no lists, the MicroPython heap
    is small). Returns (sent, billed, rejected, rejected_windows)."""
    sent = billed = rejected = bad_windows = 0
    next_pulse = phase_ms
    for end in range(window_ms, duration_ms + 1, window_ms):
        count = 0
        while next_pulse < end:
            count += 1
            next_pulse += period_ms
        sent += count
        b, r = _split(flt, count, window_ms)
        billed += b
        rejected += r
        bad_windows += 1 if r else 0
    return sent, billed, rejected, bad_windows


def test_full_load_for_an_hour_is_all_billed():
    # Exactly at the maximum power, read every 250 ms (1 or 2 pulses a window) with no margin.
    flt = PulsePlausibility(MAX_W, PPK, margin_pct=0)
    sent, billed, rejected, _ = _run_periodic(flt, 150, 250, 3_600_000, phase_ms=7)
    assert rejected == 0
    assert billed == sent == 24000


def test_loop_jitter_is_tolerated():
    # Reads at irregular intervals (100..900 ms): still nothing lost at 90 % of max power.
    flt = PulsePlausibility(MAX_W, PPK)
    period_ms = 167  # ~21.6 kW
    t = 0
    next_pulse = 0
    total = billed = 0
    step = 100
    while t < 600_000:
        step = 100 + (step * 7 + 13) % 800
        t += step
        count = 0
        while next_pulse < t:
            count += 1
            next_pulse += period_ms
        total += count
        b, r = _split(flt, count, step)
        assert r == 0, (t, count)
        billed += b
    assert billed == total


def test_noise_burst_is_rejected_whole():
    flt = PulsePlausibility(MAX_W, PPK)
    assert _split(flt, 2, 250) == (2, 0)
    # 50 edges in 250 ms is 200 Hz: noise or an injected signal. None of it is billed.
    assert _split(flt, 50, 250) == (0, 50)
    # Afterwards normal pulses are billed again.
    assert _split(flt, 1, 250) == (1, 0)


def test_idle_time_does_not_bank_a_burst():
    flt = PulsePlausibility(MAX_W, PPK, margin_pct=0, window_ms=2000, slack_pulses=2)
    for _ in range(100):
        _split(flt, 0, 60_000)  # an hour and a half idle
    # A read after a minute's stall is judged as 2 s + 2 periods at most: 15 pulses, not 400.
    assert _split(flt, 16, 60_000) == (0, 16)
    assert _split(flt, 15, 60_000) == (15, 0)


def test_a_stalled_loop_loses_nothing():
    # 8 s between reads (just under the watchdog) at full load: 53 or 54 pulses, all billed.
    flt = PulsePlausibility(MAX_W, PPK, margin_pct=0)
    sent, billed, rejected, _ = _run_periodic(flt, 150, 8000, 80_000, phase_ms=149)
    assert rejected == 0
    assert billed == sent == 533


def test_a_rate_just_too_high_is_caught_over_time():
    # 36 kW worth (a pulse every 100 ms) against a 30 kW limit (24 kW + 25 %): each 250 ms
    # window alone looks fine on the slack, the budget runs dry within a minute.
    flt = PulsePlausibility(MAX_W, PPK, margin_pct=25)
    sent, billed, rejected, bad_windows = _run_periodic(flt, 100, 250, 120_000)
    assert bad_windows > 0
    assert billed + rejected == sent == 1200
    assert billed * 120 <= 120_000 + 10_000 + 240  # never more than the limit allows


def test_huge_counts_and_odd_elapsed_do_not_break_it():
    flt = PulsePlausibility(MAX_W, PPK)
    assert _split(flt, 1 << 29, 250) == (0, 1 << 29)
    assert _split(flt, 0, -5) == (0, 0)
    assert _split(flt, -3, 250) == (0, 0)


def test_accept_allocates_nothing_on_micropython():
    try:
        import micropython
    except ImportError:
        support.skip("heap_lock is MicroPython-only")
        return
    flt = PulsePlausibility(MAX_W, PPK)
    accept = flt.accept
    micropython.heap_lock()
    try:
        for _ in range(100):
            accept(1, 250)
            accept(40, 250)
            accept(0, 99_999)
    finally:
        micropython.heap_unlock()


def _run_train(train, start_ms, until_ms, steps):
    """Drive a train with the given step intervals; return [(rise_ms, fall_ms)]."""
    pulses = []
    t = start_ms
    level = 0
    rise = None
    i = 0
    while t < until_ms:
        new = train.step(t & ((1 << 30) - 1))
        if new and not level:
            rise = t
        elif level and not new:
            pulses.append((rise, t))
        level = new
        t += steps[i % len(steps)]
        i += 1
    return pulses


def _gaps(pulses):
    """Low times between consecutive pulses (MicroPython's zip has no strict=)."""
    return [pulses[i + 1][0] - pulses[i][1] for i in range(len(pulses) - 1)]


def test_train_emits_exactly_n_s0_pulses_with_jittery_timer():
    train = PulseTrain(30, 30)
    train.start(25, 1000)
    pulses = _run_train(train, 1000, 10_000, (10, 3, 17, 9, 11, 25, 1))
    assert len(pulses) == 25
    assert not train.busy()
    for rise, fall in pulses:
        assert fall - rise >= 30
    assert min(_gaps(pulses)) >= 30


def test_train_paced_gap_and_queueing():
    train = PulseTrain(30, 120)
    train.start(3, 0)
    train.start(2, 0)  # more queued while running
    pulses = _run_train(train, 0, 5000, (10,))
    assert len(pulses) == 5
    assert min(_gaps(pulses)) >= 120


def test_train_survives_ticks_wrap():
    start = (1 << 30) - 95  # ticks_ms wraps at 2**30 during the train
    train = PulseTrain(30, 30)
    train.start(4, start)
    pulses = _run_train(train, start, start + 2000, (10,))
    assert len(pulses) == 4
    for rise, fall in pulses:
        assert fall - rise >= 30


def test_train_rejects_negative_count():
    support.raises(ValueError, PulseTrain().start, -1, 0)
