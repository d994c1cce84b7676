"""Property tests (hypothesis) for the token codec and its helpers."""

import bisect
import hashlib
import hmac

from hypothesis import given, settings
from hypothesis import strategies as st

import token_spec as ts
from token_spec.config_blob import ConfigBlobError, sign_config, verify_config
from token_spec.hmac_sha256 import hmac_sha256

KEYS = st.binary(min_size=16, max_size=16)
METERS = st.from_regex(r"\A[0-9]{10}\Z").map(ts.make_meter_number)
TIDS = st.integers(min_value=0, max_value=(1 << 30))
AMOUNTS = st.builds(lambda m, e: m * 10**e, st.integers(0, 16383), st.integers(0, 3))

FIELDS = st.one_of(
    st.tuples(st.sampled_from(ts.AMOUNT_TYPES), AMOUNTS, TIDS),
    st.tuples(st.just(ts.TYPE_POWER_LIMIT), st.integers(0, 65535), TIDS),
    st.tuples(st.sampled_from([ts.TYPE_CLEAR_TAMPER, ts.TYPE_CLEAR_CREDIT]), st.just(0), TIDS),
    st.tuples(st.just(ts.TYPE_DEBT_RECOVERY), st.integers(0, 100), TIDS),
    st.tuples(st.just(ts.TYPE_TEST), st.sampled_from(ts.METER_TESTS), TIDS),
    st.tuples(st.sampled_from(ts.KEY_CHANGE_TYPES), st.integers(0, (1 << 40) - 1), st.just(0)),
)

# Every amount the format can carry, built independently of token_spec.amount.
ALL_AMOUNTS = sorted({m * 10**e for m in range(16384) for e in range(4)})
ALL_AMOUNT_SET = set(ALL_AMOUNTS)


@given(KEYS, METERS, FIELDS)
def test_round_trip_every_type(key, meter, fields):
    token_type, value, tid = fields
    token = ts.encode_token(key, meter, token_type, value, tid)
    assert len(token) == 20 and token.isdigit()
    expected_tid = None if token_type in ts.KEY_CHANGE_TYPES else tid % (1 << 24)
    assert ts.decode_token(key, meter, token) == (token_type, value, expected_tid)
    assert ts.decode_token(key, meter, ts.format_token(token)) == (token_type, value, expected_tid)


@settings(max_examples=300)
@given(KEYS, st.from_regex(r"\A[0-9]{20}\Z"))
def test_any_20_digits_raise_only_token_error(key, digits):
    try:
        result = ts.decode_token(key, "01234567897", digits)
    except ts.TokenError as exc:
        assert exc.code in ts.RESULT_CODES
    else:
        assert result[0] in range(16)


@given(st.text(max_size=40))
def test_any_text_raises_only_token_error(text):
    try:
        ts.decode_token(bytes(16), "01234567897", text)
    except ts.TokenError:
        pass


@given(st.integers(-10, ts.MAX_AMOUNT + 10))
def test_representable_matches_brute_force(amount):
    assert ts.is_representable(amount) == (amount in ALL_AMOUNT_SET)


@given(st.integers(0, ts.MAX_AMOUNT))
def test_nearest_representable_brackets_with_nothing_between(amount):
    # The largest representable amount <= amount and the smallest >= it (SPEC.md 5.1).
    below, above = ts.nearest_representable(amount)
    i = bisect.bisect_right(ALL_AMOUNTS, amount)
    assert below == ALL_AMOUNTS[i - 1]
    assert above == (amount if amount in ALL_AMOUNT_SET else ALL_AMOUNTS[i])


@given(AMOUNTS)
def test_amount_encoding_is_canonical(amount):
    value16 = ts.encode_amount(amount)
    exponent, mantissa = value16 >> 14, value16 & 0x3FFF
    assert mantissa * 10**exponent == amount
    # No smaller exponent could carry it.
    for e in range(exponent):
        assert amount % 10**e != 0 or amount // 10**e > 16383


@given(st.integers(0, (1 << 24) - 1), st.integers(0, 1 << 40))
def test_extend_tid_properties(tid24, reference):
    full = ts.extend_tid(tid24, reference)
    assert full >= 0 and full % (1 << 24) == tid24
    distance = full - reference
    # SPEC.md 7.2: the window is (reference + 2**20 - 2**24, reference + 2**20]; only a result
    # that would be negative may leave it (moved up by 2**24).
    if reference + (1 << 20) - (1 << 24) + 1 >= 0:
        assert -(1 << 24) + (1 << 20) < distance <= 1 << 20
    else:
        assert distance <= 1 << 20 or full - (1 << 24) < 0


@given(st.integers(0, 1 << 40), st.integers(-(1 << 24) + (1 << 20) + 1, 1 << 20))
def test_extend_tid_recovers_any_tid_inside_the_window(reference, offset):
    full = reference + offset
    if full >= 0:
        assert ts.extend_tid(full % (1 << 24), reference) == full


@given(st.integers(0, 1 << 40), st.integers(1, (1 << 24) - (1 << 20) - 1))
def test_a_token_already_behind_the_reference_never_comes_back_as_future(tid, behind):
    # The replay defect: a token sold up to 2**24 - 2**20 - 1 minutes (29.9 years; SPEC.md 7.2
    # says why not longer) before the reference must not extend above it, where it would be
    # fresh; it lands at or below it, i.e. used or old.
    reference = tid + behind
    assert ts.extend_tid(tid % (1 << 24), reference) <= reference


@given(st.binary(max_size=200), st.binary(max_size=300))
def test_hmac_matches_cpython(key, message):
    assert hmac_sha256(key, message) == hmac.new(key, message, hashlib.sha256).digest()


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=10,
)


@given(KEYS, METERS, st.integers(1, 2**31), st.dictionaries(st.text(max_size=8), JSON))
def test_config_blob_round_trip_and_tamper(key, meter, counter, config):
    blob = sign_config(key, meter, counter, config)
    assert verify_config(key, meter, blob, counter - 1) == (counter, config)
    for pos in (5, len(blob) // 2, len(blob) - 1):
        ch = blob[pos]
        other = "0" if ch != "0" else "1"
        try:
            verify_config(key, meter, blob[:pos] + other + blob[pos + 1 :], 0)
        except ConfigBlobError:
            continue
        raise AssertionError("tampered blob verified")


@given(KEYS, METERS, KEYS, st.integers(1, 255), st.permutations(range(4)))
def test_key_change_any_order(current, meter, new_key, revision, order):
    tokens = ts.key_change_tokens(current, meter, new_key, revision)
    parts = ts.empty_key_parts()
    result = None
    for i in order:
        token_type, payload, _ = ts.decode_token(current, meter, tokens[i])
        assert result is None
        parts, result = ts.add_key_part(parts, token_type, payload, revision - 1)
    assert result == (new_key, revision)
