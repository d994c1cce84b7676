"""Random walks over the whole Meter API: invariants that must hold after any sequence."""

from hypothesis import given, settings
from hypothesis import strategies as st

import token_spec as ts
from firmware.core import policy
from firmware.core.config import ConfigError
from firmware.core.meter import Meter
from tests.shared.core_fixtures import FRIENDLY_TEST_CONFIG, KEY, METER_NUMBER, MONDAY

SETTINGS = {
    "meter_number": METER_NUMBER,
    "decoder_key": KEY,
    "unit": "currency",
    "scale": 100,
    "pulses_per_kwh": 1000,
    "tariff": {"type": "flat", "price": 1000},
    "config": FRIENDLY_TEST_CONFIG,
}

step = st.one_of(
    st.tuples(st.just("pulses"), st.integers(0, 300), st.integers(0, 7200)),
    st.tuples(st.just("credit"), st.integers(0, 2000), st.integers(0, 60)),
    st.tuples(st.just("debt"), st.integers(0, 500), st.integers(0, 60)),
    st.tuples(st.just("emergency"), st.just(0), st.integers(0, 60)),
    st.tuples(st.just("tamper"), st.booleans(), st.integers(0, 60)),
    st.tuples(st.just("junk"), st.text(max_size=30), st.integers(0, 60)),
    st.tuples(st.just("clear"), st.just(0), st.integers(0, 60)),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(step, min_size=1, max_size=40))
def test_invariants_hold_after_any_sequence(steps):
    m = Meter(SETTINGS, MONDAY)
    m.boot(MONDAY)
    t, tid = MONDAY, MONDAY // 60
    for kind, value, dt in steps:
        t += dt
        if kind == "pulses":
            m.add_pulses(value, t)
        elif kind in ("credit", "debt", "clear"):
            tid += 1
            token_type = {"credit": 0, "debt": 6, "clear": 3}[kind]
            code = m.enter_token(ts.encode_token(KEY, METER_NUMBER, token_type, value, tid), t)
            assert code in (ts.RESULT_ACCEPTED, ts.RESULT_LOCKED)
        elif kind == "emergency":
            offered = policy.ec_offered(m)
            assert m.activate_emergency_credit(t) == offered
        elif kind == "tamper":
            m.set_tamper(value, t)
        else:
            assert m.enter_token(value, t) in ts.RESULT_CODES
        m.tick(t)
        blob = m.snapshot()
        # Reading never changes state.
        closed = m.relay_closed(t)
        status = m.status(t)
        assert m.snapshot() == blob
        assert status["relay"] == closed == m.relay
        # Persistence is lossless at every step.
        copy = Meter.restore(SETTINGS, blob, m.snapshot_config())
        assert copy.snapshot() == blob
        # Register invariants.
        assert 0 <= m.cost_rem < 1000 and 0 <= m.debt < 1 << 30
        assert m.ec_granted in (0, 50)
        if m.ec_granted == 0 and m.credit > 0 and not m.tamper_latched:
            assert closed
        if closed and status["relay_reason"] == "friendly":
            assert m.credit > -(m.ec_granted + 100)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400))
def test_junk_config_blobs_are_refused_cleanly(text):
    m = Meter(SETTINGS, MONDAY)
    before = m.snapshot()
    try:
        m.apply_config(text, MONDAY)
    except ConfigError as exc:
        assert "\n" not in str(exc)
    else:
        raise AssertionError("junk accepted")
    assert m.snapshot()[:50] == before[:50]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(1 << 40), 1 << 40) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
config_keys = st.sampled_from(
    [
        "tariff",
        "friendly",
        "holidays",
        "power",
        "debt",
        "emergency",
        "low_credit",
        "standing_charge",
        "utc_offset_min",
        "friendly_floor",
        "never_disconnect",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(config_keys, json_values, max_size=4))
def test_signed_configs_either_apply_or_are_refused(config):
    from token_spec.config_blob import sign_config

    m = Meter(SETTINGS, MONDAY)
    before = m.snapshot_config()
    try:
        m.apply_config(sign_config(KEY, METER_NUMBER, 1, config), MONDAY)
    except ConfigError as exc:
        assert "\n" not in str(exc)
        assert m.snapshot_config() == before and m.config.counter == 0
    else:
        assert m.config.counter == 1
        m.add_pulses(10, MONDAY + 60)
        m.tick(MONDAY + 60)
        m.status(MONDAY + 60)
