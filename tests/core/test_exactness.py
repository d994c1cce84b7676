"""Property tests: after any sequence of pulse batches, price changes and top-ups the credit is
the exact rational cost rounded by the documented rule (docs/core.md, "Exactness").

The reference below is written independently of the core: datetime for the calendar,
fractions.Fraction for money, and the batch-splitting rule from the documentation.
"""

import datetime
from fractions import Fraction
from math import floor

from hypothesis import given, settings
from hypothesis import strategies as st

from firmware.core.meter import Meter
from tests.shared.core_fixtures import KEY, METER_NUMBER, MONDAY

EPOCH = datetime.datetime(2020, 1, 1)


def make_meter(tariff, ppk, config=None):
    s = {
        "meter_number": METER_NUMBER,
        "decoder_key": KEY,
        "unit": "currency",
        "scale": 100,
        "pulses_per_kwh": ppk,
        "tariff": tariff,
        "config": config or {},
    }
    return Meter(s, MONDAY)


def local(t, offset_min):
    return EPOCH + datetime.timedelta(seconds=t + offset_min * 60)


def tou_price(table, weekend, t, offset_min):
    moment = local(t, offset_min)
    points = weekend if moment.weekday() >= 5 else table
    minute = moment.hour * 60 + moment.minute
    price = points[0][1]
    for start, p in points:
        if start <= minute:
            price = p
    return price


def change_points(table, weekend, t0, t1, offset_min):
    """Instants in (t0, t1) where the price may change: switch points and midnights."""
    out = []
    start = local(t0, offset_min).replace(hour=0, minute=0, second=0)
    day = start
    while day <= local(t1, offset_min):
        points = weekend if day.weekday() >= 5 else table
        for minute, _ in points:
            instant = (day - EPOCH).total_seconds() + minute * 60 - offset_min * 60
            if t0 < instant < t1:
                out.append(int(instant))
        day += datetime.timedelta(days=1)
    return sorted(out)


def split(n, t0, t1, boundaries):
    """[(pulses, segment start)] by the documented rule: share before b = n*(b-t0)//span."""
    segments = []
    done, start = 0, t0
    for b in boundaries:
        upto = n * (b - t0) // (t1 - t0)
        segments.append((upto - done, start))
        done, start = upto, b
    segments.append((n - done, start))
    return segments


def tables():
    minutes = st.lists(st.integers(1, 1439), min_size=0, max_size=9, unique=True)
    prices = st.integers(0, 1 << 20)
    return minutes.flatmap(
        lambda ms: st.lists(prices, min_size=len(ms) + 1, max_size=len(ms) + 1).map(
            lambda ps: [[m, p] for m, p in zip([0] + sorted(ms), ps, strict=True)]
        )
    )


batches = st.lists(
    st.tuples(st.integers(0, 20000), st.integers(0, 86400), st.integers(0, 2000)),
    min_size=1,
    max_size=30,
)


@settings(max_examples=1200, deadline=None)
@given(
    table=tables(),
    weekend=tables(),
    ppk=st.sampled_from([1, 3, 100, 800, 1000, 3200, 99991, 100000]),
    offset=st.integers(-720, 840),
    ops=batches,
)
def test_tou_credit_is_exact(table, weekend, ppk, offset, ops):
    tariff = {"type": "tou", "weekday": table, "weekend": weekend}
    m = make_meter(tariff, ppk, {"utc_offset_min": offset})
    exact = Fraction(0)
    topups = 0
    t = MONDAY
    for n, dt, topup in ops:
        t0, t = t, t + dt
        m.add_pulses(n, t)
        bounds = change_points(table, weekend, t0, t, offset) if dt else []
        for count, start in split(n, t0, t, bounds):
            exact += Fraction(count * tou_price(table, weekend, start, offset), ppk)
        if topup:
            assert m.top_up(topup, t)
            topups += topup
        assert m.credit == topups - floor(exact)
        assert Fraction(m.cost_rem, ppk) == exact - floor(exact)


@settings(max_examples=1200, deadline=None)
@given(
    ppk=st.integers(1, 100000),
    ops=st.lists(
        st.tuples(
            st.integers(0, 30000),
            st.integers(0, 5000),
            st.one_of(st.none(), st.integers(0, 1 << 20)),
            st.integers(0, 5000),
        ),
        min_size=1,
        max_size=40,
    ),
)
def test_flat_price_changes_and_topups_are_exact(ppk, ops):
    m = make_meter({"type": "flat", "price": 7}, ppk)
    price, exact, topups, t = 7, Fraction(0), 0, MONDAY
    wh = Fraction(0)
    for n, dt, new_price, topup in ops:
        t += dt
        m.add_pulses(n, t)
        exact += Fraction(n * price, ppk)
        wh += Fraction(n * 1000, ppk)
        if new_price is not None:
            m.override("", "tariff", {"type": "flat", "price": new_price})
            price = new_price
        if topup:
            assert m.top_up(topup, t)
            topups += topup
        assert m.credit == topups - floor(exact)
        assert m.energy_wh == floor(wh)
    assert m.lifetime_pulses() == sum(op[0] for op in ops)


@settings(max_examples=600, deadline=None)
@given(
    blocks=st.lists(
        st.tuples(st.integers(1, 40), st.integers(0, 1 << 20)), min_size=1, max_size=8
    ),
    ppk=st.sampled_from([1, 10, 1000, 3600]),
    ops=batches,
)
def test_inclining_blocks_are_exact_and_reset_monthly(blocks, ppk, ops):
    tariff = {"type": "blocks", "blocks": [list(b) for b in blocks[:-1]] + [[0, blocks[-1][1]]]}
    m = make_meter(tariff, ppk)
    ends, total = [], 0
    for size, _ in blocks[:-1]:
        total += size * ppk
        ends.append(total)
    prices = [p for _, p in blocks]

    def month_of(t):
        moment = local(t, 0)
        return moment.year, moment.month

    used = {}  # month -> pulses consumed
    exact, t = Fraction(0), MONDAY
    for n, dt, _ in ops:
        t0, t = t, t + dt
        m.add_pulses(n, t)
        bounds = []
        if dt:
            first = local(t0, 0).replace(day=1, hour=0, minute=0, second=0)
            while True:
                first = (first + datetime.timedelta(days=32)).replace(day=1)
                instant = int((first - EPOCH).total_seconds())
                if instant >= t:
                    break
                bounds.append(instant)
        for count, start in split(n, t0, t, bounds):
            month = month_of(start)
            before = used.get(month, 0)
            # Price pulse by pulse position within the month's blocks (whole ranges at once).
            pos, left = before, count
            while left:
                i = next((k for k, end in enumerate(ends) if pos < end), len(ends))
                room = (ends[i] - pos) if i < len(ends) else left
                take = min(room, left)
                exact += Fraction(take * prices[i], ppk)
                pos += take
                left -= take
            used[month] = pos
        assert m.credit == -floor(exact)
