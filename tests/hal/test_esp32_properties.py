"""Property tests (CPython, hypothesis) for the ESP32 HAL's pure pulse and keypad logic."""

from hypothesis import given, settings
from hypothesis import strategies as st

from firmware.hal.esp32_keypad import DEFAULT_KEYMAP, KeypadDebouncer, scan_bitmap
from firmware.hal.esp32_pulse import PulsePlausibility, min_pulse_period_us

POWERS = st.sampled_from([3_000, 10_000, 24_000, 48_000])
CONSTANTS = st.sampled_from([100, 400, 1000, 2000])


@settings(max_examples=150, deadline=None)
@given(
    max_w=POWERS,
    ppk=CONSTANTS,
    load_pct=st.integers(1, 100),
    phase_ms=st.integers(0, 5000),
    reads=st.lists(st.integers(1, 10_000), min_size=1, max_size=200),
)
def test_a_real_meter_within_its_rating_is_always_billed_in_full(
    max_w, ppk, load_pct, phase_ms, reads
):
    """Pulses no faster than max power, read at any intervals up to 10 s: nothing rejected."""
    flt = PulsePlausibility(max_w, ppk, margin_pct=0)
    period_us = min_pulse_period_us(max_w, ppk) * 100 // load_pct
    next_pulse_us = phase_ms * 1000
    now_us = 0
    sent = billed = 0
    for elapsed_ms in reads:
        now_us += elapsed_ms * 1000
        count = 0
        while next_pulse_us <= now_us:
            count += 1
            next_pulse_us += period_us
        sent += count
        b = flt.accept(count, elapsed_ms)
        assert flt.rejected == 0, (count, elapsed_ms)
        billed += b
    assert billed == sent


@settings(max_examples=150, deadline=None)
@given(
    max_w=POWERS,
    ppk=CONSTANTS,
    deltas=st.lists(st.tuples(st.integers(0, 5000), st.integers(-10, 20_000)), max_size=200),
)
def test_billing_never_outruns_the_rate_limit(max_w, ppk, deltas):
    """Whatever the counter reports, billed pulses fit the elapsed time plus one full bucket."""
    flt = PulsePlausibility(max_w, ppk)
    earned_us = flt.cap_us
    billed = 0
    for count, elapsed_ms in deltas:
        b = flt.accept(count, elapsed_ms)
        assert (b, flt.rejected) in ((count, 0), (0, count)) or count <= 0
        billed += b
        earned_us += min(max(elapsed_ms, 0), flt.window_ms) * 1000
        assert billed * flt.period_us <= earned_us


@st.composite
def typing_session(draw):
    """Keys typed with contact bounce shorter than the debounce, and the scans they make."""
    stable = draw(st.integers(1, 4))
    typed = draw(st.text(alphabet=DEFAULT_KEYMAP, max_size=12))
    scans = []
    idle = 0
    for ch in typed:
        index = DEFAULT_KEYMAP.index(ch)
        bitmap = 1 << index
        for _ in range(draw(st.integers(0, 3))):  # bounce: flicker shorter than `stable`
            scans += [bitmap] * draw(st.integers(1, stable)) if stable > 1 else []
            scans += [idle] * draw(st.integers(1, max(1, stable - 1))) if stable > 1 else []
        scans += [bitmap] * draw(st.integers(stable, stable + 30))  # held
        scans += [idle] * draw(st.integers(stable, stable + 10))  # released
    return stable, typed, scans


@settings(max_examples=200, deadline=None)
@given(session=typing_session(), chunks=st.integers(1, 7))
def test_every_typed_key_is_read_once_in_order(session, chunks):
    stable, typed, scans = session
    deb = KeypadDebouncer(stable_scans=stable)
    got = ""
    for i, bitmap in enumerate(scans):
        deb.feed(bitmap)
        if i % chunks == 0:  # the app reads whenever it likes
            got += deb.take()
    got += deb.take()
    assert got == typed


def test_scan_bitmap_matches_key_positions():
    for index in range(16):
        row, col = divmod(index, 4)
        levels = bytearray(b"\x0f" * 4)
        levels[row] &= ~(1 << col) & 0xF
        assert scan_bitmap(levels) == 1 << index
