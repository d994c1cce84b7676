"""Token encode/decode behaviour: input handling, rejection, value domains."""

from token_vectors_support import error_of, lcg

import token_spec as ts

KEY = bytes(range(16))
METER = ts.make_meter_number("0123456789")


def test_normalize_accepts_groups_spaces_and_dashes():
    assert ts.normalize_token("1234 5678-9012 3456\t7890") == "12345678901234567890"
    assert ts.format_token("12345678901234567890") == "1234 5678 9012 3456 7890"


def test_normalize_rejects_wrong_length_and_characters():
    for text in ("1234", "1" * 21, "1234 5678 9012 3456 789x", "", "１" * 20):
        exc = error_of(ts.normalize_token, text)
        assert isinstance(exc, ts.TokenFormatError), text
        assert exc.code == ts.RESULT_REJECT
    assert "20 digits" in str(error_of(ts.normalize_token, "1234"))
    assert isinstance(error_of(ts.normalize_token, None), ts.TokenError)


def test_decode_bad_meter_number_is_a_clear_error():
    token = ts.encode_token(KEY, METER, ts.TYPE_CREDIT, 5, 7)
    bad = METER[:-1] + str((int(METER[-1]) + 1) % 10)
    exc = error_of(ts.decode_token, KEY, bad, token)
    assert isinstance(exc, ts.MeterNumberError) and isinstance(exc, ValueError)
    assert "check digit" in str(exc)


def test_round_trip_every_type_at_its_limits():
    cases = [
        (ts.TYPE_CREDIT, 0),
        (ts.TYPE_CREDIT, ts.MAX_AMOUNT),
        (ts.TYPE_POWER_LIMIT, 65535),
        (ts.TYPE_CLEAR_TAMPER, 0),
        (ts.TYPE_CLEAR_CREDIT, 0),
        (ts.TYPE_SET_PRICE, 163830),
        (ts.TYPE_LOW_CREDIT, 1),
        (ts.TYPE_ADD_DEBT, 1639000),
        (ts.TYPE_DEBT_RECOVERY, 100),
        (ts.TYPE_TEST, ts.TEST_RELAY),
    ]
    for tid in (0, (1 << 24) - 1, 1 << 24, 5 * (1 << 24) + 3):
        for token_type, value in cases:
            token = ts.encode_token(KEY, METER, token_type, value, tid)
            assert len(token) == 20 and token.isdigit()
            assert ts.decode_token(KEY, METER, token) == (token_type, value, tid % (1 << 24))


def test_key_change_parts_carry_40_bits_and_no_tid():
    for token_type in ts.KEY_CHANGE_TYPES:
        for payload in (0, (1 << 40) - 1, 0x5A5A5A5A5A):
            token = ts.encode_token(KEY, METER, token_type, payload, 0)
            assert ts.decode_token(KEY, METER, token) == (token_type, payload, None)
        assert isinstance(error_of(ts.encode_token, KEY, METER, token_type, 1, 5), ValueError)
        assert isinstance(
            error_of(ts.encode_token, KEY, METER, token_type, 1 << 40, 0), ValueError
        )


def test_public_test_tokens_work_on_every_meter_and_key():
    other_key = bytes([7] * 16)
    other_meter = ts.make_meter_number("5555555555")
    for test in ts.DISPLAY_TESTS:
        token = ts.encode_token(KEY, METER, ts.TYPE_PUBLIC_TEST, test, 0)
        assert token == ts.encode_token(other_key, other_meter, ts.TYPE_PUBLIC_TEST, test, 0)
        assert ts.decode_token(other_key, other_meter, token) == (ts.TYPE_PUBLIC_TEST, test, 0)
        exc = error_of(ts.decode_token, other_key, other_meter, token, False)
        assert isinstance(exc, ts.TokenRejected)
    # A relay test is never public.
    for bad in ((ts.TEST_RELAY, 0), (0, 5)):
        exc = error_of(ts.encode_token, KEY, METER, ts.TYPE_PUBLIC_TEST, bad[0], bad[1])
        assert isinstance(exc, ValueError)


def test_encode_refuses_what_the_format_cannot_carry():
    bad = [
        (ts.TYPE_CREDIT, 16384, 1),  # not representable
        (ts.TYPE_CREDIT, -1, 1),
        (ts.TYPE_CREDIT, ts.MAX_AMOUNT + 1, 1),
        (ts.TYPE_POWER_LIMIT, 65536, 1),
        (ts.TYPE_CLEAR_TAMPER, 1, 1),
        (ts.TYPE_DEBT_RECOVERY, 101, 1),
        (ts.TYPE_TEST, 99, 1),
        (12, 0, 1),
        (13, 0, 1),
        (16, 0, 1),
        (ts.TYPE_CREDIT, 5, -1),
    ]
    for token_type, value, tid in bad:
        exc = error_of(ts.encode_token, KEY, METER, token_type, value, tid)
        assert isinstance(exc, ValueError), (token_type, value, tid)
    msg = str(error_of(ts.encode_token, KEY, METER, ts.TYPE_CREDIT, 16384, 1))
    assert "16383" in msg and "16390" in msg


def test_token_is_bound_to_meter_and_key():
    token = ts.encode_token(KEY, METER, ts.TYPE_CREDIT, 1000, 99)
    other_meter = ts.make_meter_number("0123456788")
    assert isinstance(error_of(ts.decode_token, KEY, other_meter, token), ts.TokenRejected)
    assert isinstance(error_of(ts.decode_token, bytes(16), METER, token), ts.TokenRejected)


def test_every_changed_digit_is_rejected():
    rand = lcg(11)
    for i in range(3):
        token = ts.encode_token(KEY, METER, ts.TYPE_CREDIT, 1 + rand(16383), 1000 + i)
        for pos in range(20):
            for step in range(1, 10):
                digit = str((int(token[pos]) + step) % 10)
                changed = token[:pos] + digit + token[pos + 1 :]
                exc = error_of(ts.decode_token, KEY, METER, changed)
                assert isinstance(exc, ts.TokenRejected), (token, pos, digit)


def test_swapped_adjacent_digits_are_rejected():
    token = ts.encode_token(KEY, METER, ts.TYPE_CREDIT, 2500, 4242)
    for pos in range(19):
        if token[pos] != token[pos + 1]:
            swapped = token[:pos] + token[pos + 1] + token[pos] + token[pos + 2 :]
            assert isinstance(error_of(ts.decode_token, KEY, METER, swapped), ts.TokenRejected)


def test_type_names_round_trip():
    for number, name in ts.TYPE_NAMES.items():
        assert ts.type_from_name(name) == number
        assert ts.type_from_name(str(number)) == number
    assert ts.type_from_name("Power_Limit") == ts.TYPE_POWER_LIMIT
    assert isinstance(error_of(ts.type_from_name, "refund"), ValueError)
    assert isinstance(error_of(ts.type_from_name, "16"), ValueError)


def test_error_classes_carry_result_codes():
    expected = {
        ts.TokenFormatError: ts.RESULT_REJECT,
        ts.TokenRejected: ts.RESULT_REJECT,
        ts.TokenUnsupported: ts.RESULT_UNSUPPORTED,
        ts.TokenOld: ts.RESULT_OLD,
        ts.TokenUsed: ts.RESULT_USED,
        ts.TokenLocked: ts.RESULT_LOCKED,
        ts.TokenOverflow: ts.RESULT_OVERFLOW,
    }
    for cls, code in expected.items():
        exc = cls("message")
        assert isinstance(exc, ts.TokenError)
        assert exc.code == code and code in ts.RESULT_CODES


def test_bad_decoder_keys_are_value_errors():
    for bad in ("0" * 16, bytes(15), None):
        assert isinstance(error_of(ts.encode_token, bad, METER, 0, 1, 1), ValueError)
        assert isinstance(error_of(ts.decode_token, bad, METER, "1" * 20), ValueError)
    token = ts.encode_token(bytearray(KEY), METER, 0, 1, 1)
    assert ts.decode_token(bytearray(KEY), METER, token) == (0, 1, 1)
