"""Property tests (hypothesis) for the STS codec: round trips over every class and subclass,
every amount exponent boundary, the ciphers, TIDs and digits."""

import datetime

import sts_vectors as v
from hypothesis import given, settings
from hypothesis import strategies as st

from token_spec.sts import amount, misty1, sta, token
from token_spec.sts.digits import from_digits, to_digits
from token_spec.sts.tid import BASE_YEARS, TID_MAX, tid_from_time, time_from_tid

EAS = st.sampled_from([(7, 8), (11, 16)])
TIDS = st.integers(0, TID_MAX)
RNDS = st.integers(0, 15)
UNITS = st.integers(0, amount.UNITS_MAX)


def _offset(e):
    return sum(16384 * 10 ** (n - 1) for n in range(1, e + 1))


def _boundaries(e_max):
    """Every exponent's first and last value, and their neighbours."""
    out = set()
    for e in range(e_max + 1):
        first, last = _offset(e), _offset(e) + 16383 * 10**e
        out.update({first - 1, first, first + 1, last - 1, last, last + 1})
    return sorted(x for x in out if x >= 0)


@st.composite
def value_tokens(draw):
    cls, sub = draw(
        st.sampled_from([(0, s) for s in range(8)] + [(2, s) for s in (0, 1, 2, 5, 6, 7)])
    )
    if cls == 0 and sub >= 4:
        value = draw(st.integers(-amount.CURRENCY_MAX, amount.CURRENCY_MAX))
    elif (cls, sub) in ((2, 1), (2, 2), (2, 7)):
        value = draw(st.integers(0, 0xFFFF))
    elif (cls, sub) == (2, 5):
        value = 0
    else:
        value = draw(UNITS)
    return cls, sub, value


@settings(max_examples=400, deadline=None)
@given(EAS.flatmap(lambda e: st.tuples(st.just(e[0]), st.binary(min_size=e[1], max_size=e[1]))),
       value_tokens(), TIDS, RNDS)  # fmt: skip
def test_value_tokens_round_trip(ea_key, fields, tid, rnd):
    ea, key = ea_key
    cls, sub, value = fields
    digits = token.encode(key, ea, cls, sub, tid, value, rnd)
    got = token.decode(digits, key, ea)
    if cls == 0 and sub >= 4:
        f, se = amount.encode_currency(value)
        carried = amount.decode_currency(f, se)
        assert got == (cls, sub, tid, carried, None, True)
    else:
        carried = got[3]
        assert got == (cls, sub, tid, carried, rnd, True)
    assert carried >= value  # rounding is never against the customer
    if (cls, sub) in ((2, 1), (2, 2), (2, 5), (2, 7)):
        assert carried == value


@settings(max_examples=200, deadline=None)
@given(st.sampled_from([0, 1]), st.integers(0, (1 << 36) - 1), st.integers(0, 9999))
def test_test_tokens_round_trip(sub, control, mfr):
    control &= (1 << (36 if sub == 0 else 28)) - 1
    mfr = mfr % (100 if sub == 0 else 10000)
    digits = token.encode_test(sub, control, mfr)
    assert token.decode(digits, None, 7) == (1, sub, None, control, None, True)
    assert token.test_fields(token.decode_block(digits, None, 11)[1]) == (control, mfr)


@settings(max_examples=150, deadline=None)
@given(
    EAS.flatmap(
        lambda e: st.tuples(
            st.just(e[0]),
            st.binary(min_size=e[1], max_size=e[1]),
            st.binary(min_size=e[1], max_size=e[1]),
        )
    ),
    st.integers(0, 255),
    st.integers(1, 15),
    st.integers(0, 1),
    st.integers(0, 3),
    st.integers(0, 255),
    st.integers(0, 999999),
)
def test_key_change_tokens_round_trip(keys, ken, krn, ro, kt, ti, sgc):
    ea, old, new = keys
    tokens = token.encode_kct(old, ea, new, ken, krn, ro, kt, ti, sgc)
    blocks = [token.decode_block(t, old, ea) for t in tokens]
    assert all(cls == 2 and token.crc_ok(cls, b) for cls, b in blocks)
    by_sub = {b >> 60: b for _, b in blocks}
    words = {s: token.fields(2, b)[2] for s, b in by_sub.items()}
    order = (3, 4) if ea == 7 else (3, 8, 9, 4)
    assert sorted(by_sub) == sorted(order)
    assert b"".join(words[s].to_bytes(4, "big") for s in order) == new
    assert token.kct_fields(by_sub[3]) == (ken >> 4, krn, ro, 0, kt)
    assert token.kct_fields(by_sub[4]) == (ken & 15, ti)
    if ea == 11:
        assert token.kct_fields(by_sub[9])[0] << 12 | token.kct_fields(by_sub[8])[0] == sgc


def test_every_16_bit_amount_field_is_one_distinct_value_in_order():
    previous = -1
    for field in range(1 << 16):
        units = amount.decode_units(field)
        assert units > previous  # fields are ordered like their values: no two share one
        assert amount.encode_units(units) == field
        previous = units
    assert previous == amount.UNITS_MAX == 18201624


@given(UNITS)
def test_units_round_up_to_the_next_representable_value(units):
    field = amount.encode_units(units)
    assert amount.decode_units(field) >= units
    if field:
        assert amount.decode_units(field - 1) < units  # nothing representable in between


def test_every_unit_exponent_boundary():
    for units in _boundaries(3):
        if units > amount.UNITS_MAX:
            continue
        field = amount.encode_units(units)
        carried = amount.decode_units(field)
        assert carried >= units and (field == 0 or amount.decode_units(field - 1) < units)
        e = field >> 14
        assert _offset(e) <= carried <= _offset(e) + 16383 * 10**e


def test_every_currency_exponent_boundary_both_signs():
    for magnitude in _boundaries(31):
        for value in (magnitude, -magnitude):
            if abs(value) > amount.CURRENCY_MAX:
                continue
            f, se = amount.encode_currency(value)
            carried = amount.decode_currency(f, se)
            assert carried >= value  # toward +infinity
            e = ((se & 7) << 2) | (f >> 14)
            assert _offset(e) <= abs(carried) <= _offset(e) + 16383 * 10**e
            # nothing representable between value and carried
            assert carried - value < 10**e or carried == value


@given(st.integers(-amount.CURRENCY_MAX, amount.CURRENCY_MAX))
def test_currency_values_round_trip_when_representable(value):
    f, se = amount.encode_currency(value)
    carried = amount.decode_currency(f, se)
    assert amount.encode_currency(carried) == (f, se) or carried == 0


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=8, max_size=8), st.binary(min_size=8, max_size=8))
def test_sta_tables_match_the_bit_loop_and_invert(key, block):
    c = sta.encrypt(key, block)
    expected = v.sta_by_definition(int.from_bytes(key, "big"), int.from_bytes(block, "big"))
    assert int.from_bytes(c, "big") == expected
    assert sta.decrypt(key, c) == block


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=16, max_size=16), st.binary(min_size=8, max_size=8))
def test_misty1_inverts(key, block):
    assert misty1.decrypt(key, misty1.encrypt(key, block)) == block


@given(st.integers(0, 3), st.integers(0, (1 << 64) - 1))
def test_digits_round_trip(cls, block):
    digits = to_digits(cls, block)
    assert len(digits) == 20 and from_digits(digits) == (cls, block)


@given(st.sampled_from(BASE_YEARS), TIDS)
def test_tid_matches_the_datetime_module(base, tid):
    when = datetime.datetime(base, 1, 1) + datetime.timedelta(minutes=tid)
    fields = (when.year, when.month, when.day, when.hour, when.minute)
    assert time_from_tid(tid, base) == fields
    assert tid_from_time(*(fields + (base,))) == tid
