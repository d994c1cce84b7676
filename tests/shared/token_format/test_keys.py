"""HMAC-SHA256 (RFC 4231), decoder-key derivation, key change assembly, meter numbers."""

from token_vectors_support import error_of

import token_spec as ts
from token_spec.hmac_sha256 import equal_digests, hmac_sha256

METER = ts.make_meter_number("0123456789")


def test_hmac_sha256_rfc4231_cases():
    # RFC 4231 test cases 1, 2, 6 (key longer than the block) and 7.
    cases = [
        (
            b"\x0b" * 20,
            b"Hi There",
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
        ),
        (
            b"Jefe",
            b"what do ya want for nothing?",
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
        ),
        (
            b"\xaa" * 131,
            b"Test Using Larger Than Block-Size Key - Hash Key First",
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
        ),
        (
            b"\xaa" * 131,
            b"This is a test using a larger than block-size key and a larger than block-size"
            b" data. The key needs to be hashed before being used by the HMAC algorithm.",
            "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
        ),
    ]
    for key, message, expected in cases:
        assert hmac_sha256(key, message) == bytes.fromhex(expected)


def test_equal_digests():
    assert equal_digests(b"abc", b"abc")
    assert not equal_digests(b"abc", b"abd")
    assert not equal_digests(b"abc", b"ab")


def test_derive_decoder_key_inputs_all_matter():
    vk = bytes(range(32))
    base = ts.derive_decoder_key(vk, METER, 0)
    assert len(base) == 16
    assert base == ts.derive_decoder_key(vk, METER, 0)
    assert base != ts.derive_decoder_key(vk, METER, 1)
    assert base != ts.derive_decoder_key(vk, ts.make_meter_number("0123456788"), 0)
    assert base != ts.derive_decoder_key(bytes(32), METER, 0)
    # The definition, spelled out with the HMAC primitive.
    expected = hmac_sha256(vk, b"prepay-decoder-v1" + METER.encode() + b"\x00")[:16]
    assert base == expected
    for bad in ((bytes(16), METER, 0), (vk, METER, 256), (vk, "123", 0)):
        assert isinstance(error_of(ts.derive_decoder_key, *bad), ValueError)


def _parts_from(current, new_key, revision):
    out = []
    for token in ts.key_change_tokens(current, METER, new_key, revision):
        token_type, payload, _ = ts.decode_token(current, METER, token)
        out.append((token_type, payload))
    return out


def test_key_change_needs_all_parts_and_a_newer_revision():
    current = bytes(16)
    new_key = bytes(range(1, 17))
    parts = ts.empty_key_parts()
    decoded = _parts_from(current, new_key, 3)
    for token_type, payload in decoded[:3]:
        parts, result = ts.add_key_part(parts, token_type, payload, 2)
        assert result is None
    # Re-entering a part already stored changes nothing.
    parts, result = ts.add_key_part(parts, decoded[0][0], decoded[0][1], 2)
    assert result is None
    assert ts.unpack_key_parts(ts.pack_key_parts(parts)) == parts
    assert len(ts.pack_key_parts(parts)) == 24
    parts, result = ts.add_key_part(parts, decoded[3][0], decoded[3][1], 2)
    assert result == (new_key, 3)
    # The same set against a meter already at revision 3: old, and the parts are dropped.
    parts = ts.empty_key_parts()
    for token_type, payload in decoded[:3]:
        parts, _ = ts.add_key_part(parts, token_type, payload, 3)
    exc = error_of(ts.add_key_part, parts, decoded[3][0], decoded[3][1], 3)
    assert isinstance(exc, ts.TokenOld) and exc.parts == ts.empty_key_parts()


def test_key_change_mixed_sets_fail_the_check_until_corrected():
    current = bytes(16)
    set_a = _parts_from(current, bytes(range(1, 17)), 5)
    set_b = _parts_from(current, bytes(range(2, 18)), 5)
    parts = ts.empty_key_parts()
    for token_type, payload in [set_a[0]] + set_b[1:3]:
        parts, _ = ts.add_key_part(parts, token_type, payload, 0)
    exc = error_of(ts.add_key_part, parts, set_b[3][0], set_b[3][1], 0)
    assert isinstance(exc, ts.TokenRejected)
    assert exc.parts[3] == set_b[3][1]  # the new part is kept
    parts, result = ts.add_key_part(exc.parts, set_b[0][0], set_b[0][1], 0)
    assert result == (bytes(range(2, 18)), 5)


def test_key_change_tokens_are_under_the_current_key():
    current = bytes(range(16))
    tokens = ts.key_change_tokens(current, METER, bytes(16), 1)
    assert len(tokens) == 4 and len(set(tokens)) == 4
    for token in tokens:
        assert isinstance(error_of(ts.decode_token, bytes(16), METER, token), ts.TokenRejected)
    assert isinstance(error_of(ts.key_change_tokens, current, METER, bytes(15), 1), ValueError)
    assert isinstance(error_of(ts.add_key_part, ts.empty_key_parts(), 0, 1, 0), ValueError)


def test_luhn_meter_numbers():
    # The textbook Luhn example: 7992739871 has check digit 3.
    assert ts.luhn_digit("7992739871") == "3"
    assert ts.make_meter_number("7992739871") == "79927398713"
    assert ts.check_meter_number("7992-7398 713") == "79927398713"
    for bad, words in (
        ("79927398710", "check digit"),
        ("7992739871", "11 digits"),
        ("7992739871x", "only digits"),
        ("", "11 digits"),
    ):
        exc = error_of(ts.check_meter_number, bad)
        assert isinstance(exc, ts.MeterNumberError) and isinstance(exc, ValueError)
        assert words in str(exc), (bad, str(exc))
    assert isinstance(error_of(ts.check_meter_number, 12345678901), ts.MeterNumberError)
    assert ts.check_meter_number(ts.PUBLIC_METER_NUMBER) == "00000000000"
