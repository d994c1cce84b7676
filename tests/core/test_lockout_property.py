"""Any mix of entries and clock moves: the meter's lockout follows SPEC.md 8.3 exactly.

The reference below is written from the SPEC text (count only check failures, reset only on a
meter-specific `accepted` or a newly stored key part — a replayed stored part changes nothing —,
cap a deadline the clock went back past) and takes the schedule from token_spec, which
tests/shared/token_format pins to the SPEC's numbers. Snapshots are restored at random points:
the lockout must survive them.
"""

from hypothesis import given, settings
from hypothesis import strategies as st

import token_spec as ts
from firmware.core.meter import Meter
from tests.shared.core_fixtures import KEY, METER_NUMBER, MONDAY
from tests.shared.core_fixtures import settings as meter_settings

PUBLIC_TEST = "8724 4239 1689 3481 1077"  # SPEC.md 5.7, display test 0
OTHER_METER = ts.make_meter_number("0499999999")
# Three of the four parts of a key change: each is `key_part_stored`, the key never swaps.
KEY_PARTS = ts.key_change_tokens(KEY, METER_NUMBER, bytes(range(100, 116)), 2)[:3]

entry = st.sampled_from(["wrong", "public", "used", "slip", "fresh", "key_part", "reboot"])
step = st.tuples(entry, st.integers(-3000, 1500))  # seconds the clock moves first (may go back)


class Reference:
    """SPEC.md 8.3 as written, with token_spec's schedule and cap."""

    def __init__(self):
        self.rejects = 0
        self.until = 0
        self.parts = set()  # key-change parts stored so far

    def enter(self, kind, now, part=None):
        left = ts.lockout_remaining(self.until, now)
        if left:
            self.until = now + left
            return ts.RESULT_LOCKED
        if kind == "wrong":
            self.rejects += 1
            seconds = ts.lockout_seconds(self.rejects)
            if seconds:
                self.until = now + seconds
            return ts.RESULT_REJECT
        if kind == "key_part":
            if part not in self.parts:
                self.parts.add(part)
                self.rejects = 0
            return ts.RESULT_KEY_PART_STORED
        if kind == "fresh":
            self.rejects = 0
            return ts.RESULT_ACCEPTED
        return {"public": ts.RESULT_ACCEPTED, "used": ts.RESULT_USED, "slip": ts.RESULT_REJECT}[
            kind
        ]


@settings(max_examples=400, deadline=None)
@given(st.lists(step, min_size=1, max_size=60))
def test_lockout_matches_the_spec_for_any_sequence(steps):
    m = Meter(meter_settings(), MONDAY)
    m.boot(MONDAY)
    ref = Reference()
    now, tid = MONDAY, MONDAY // 60 + 10
    used = ts.encode_token(KEY, METER_NUMBER, ts.TYPE_CREDIT, 1, tid)
    assert m.enter_token(used, now) == ts.RESULT_ACCEPTED
    for i, (kind, dt) in enumerate(steps):
        now += dt
        if kind == "reboot":
            m = Meter.restore(meter_settings(), m.snapshot(), m.snapshot_config())
            m.boot(now)
            continue
        if kind == "fresh":
            tid += 1
            digits = ts.encode_token(KEY, METER_NUMBER, ts.TYPE_CREDIT, 1, tid)
        else:
            digits = {
                "wrong": ts.encode_token(KEY, OTHER_METER, ts.TYPE_CREDIT, 1, tid + i),
                "public": PUBLIC_TEST,
                "used": used,
                "slip": "1234 5678",
                "key_part": KEY_PARTS[i % 3],
            }[kind]
        expected = ref.enter(kind, now, i % 3)
        assert m.enter_token(digits, now) == expected, (i, kind)
        assert (m.fail_count, m.lock_until) == (min(ref.rejects, 255), ref.until), (i, kind)
