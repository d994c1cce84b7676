"""Every STS.md §7 vector (keys given) reproduces on this interpreter, both ways."""

import sts_vectors as v

from token_spec.sts import misty1, sta, token
from token_spec.sts.digits import from_digits, to_digits
from token_spec.sts.tid import tid_from_time


def _key(text):
    return bytes.fromhex(text)


def test_ea07_tokens_encode_and_decode():
    assert len(v.EA07_TOKENS) == 10
    for dk, issued, cls, sub, value, expected in v.EA07_TOKENS:
        tid = tid_from_time(*(issued + (1993,)))
        assert token.encode(_key(dk), 7, cls, sub, tid, value, 5) == expected, expected
        assert token.decode(expected, _key(dk), 7) == (cls, sub, tid, value, 5, True), expected


def test_ctsa01_every_intermediate_value():
    key = _key(v.DK_A)
    assert tid_from_time(2004, 3, 1, 13, 55, 1993) == v.CTSA01_TID
    enciphered = sta.encrypt(key, v.CTSA01_BLOCK.to_bytes(8, "big"))
    assert int.from_bytes(enciphered, "big") == v.CTSA01_ENCIPHERED
    assert int(to_digits(0, v.CTSA01_ENCIPHERED)) == v.CTSA01_NUMBER
    assert from_digits("%020d" % v.CTSA01_NUMBER) == (0, v.CTSA01_ENCIPHERED)
    assert token.decode_block("23716100501183194197", key, 7) == (0, v.CTSA01_BLOCK)


def test_worked_example_of_the_standard():
    w = v.WORKED
    assert tid_from_time(*(w["issued"] + (1993,))) == w["tid"]
    digits = token.encode(_key(w["dk"]), 7, 0, 0, w["tid"], w["value"], w["rnd"])
    assert digits == w["token"]
    assert token.decode_block(digits, _key(w["dk"]), 7) == (0, w["block"])


def test_class1_test_token_needs_no_key():
    control, mfr, expected = v.TEST_ALL
    assert token.encode_test(0, control, mfr) == expected
    assert token.decode(expected, None, 7) == (1, 0, None, control, None, True)
    cls, block = token.decode_block(expected, None, 11)  # the EA does not matter either
    assert token.test_fields(block) == (control, mfr)


def test_landis_gyr_vouchers_parse():
    for text, bit in v.VOUCHERS:
        cls, block = token.decode_block(text.replace(" ", ""), None, 7)
        assert cls == 1 and block >> 60 == 0 and token.crc_ok(cls, block), text
        assert token.test_fields(block) == (1 << bit, 0), text
        assert token.encode_test(0, 1 << bit, 0) == text.replace(" ", "")


def test_key_change_tokens_under_the_old_key():
    k = v.KCT
    tokens = token.encode_kct(
        _key(k["old"]), 7, _key(k["new"]), k["ken"], k["krn"], k["ro"], k["kt"], k["ti"], 123456
    )
    assert tokens == v.KCT_TOKENS
    first = token.decode_block(tokens[0], _key(k["old"]), 7)
    second = token.decode_block(tokens[1], _key(k["old"]), 7)
    assert token.kct_fields(first[1]) == (15, 1, 0, 0, 2)
    assert token.kct_fields(second[1]) == (15, 2)
    nkho = token.decode(tokens[0], _key(k["old"]), 7)[3]
    nklo = token.decode(tokens[1], _key(k["old"]), 7)[3]
    assert ((nkho << 32) | nklo).to_bytes(8, "big") == _key(k["new"])


def test_dkga04_keys_with_ea07_and_ea11():
    dk, issued, expected = v.DKGA04_EA07
    tid = tid_from_time(*(issued + (1993,)))
    assert token.encode(_key(dk), 7, 0, 0, tid, 1, 5) == expected
    assert token.decode(expected, _key(dk), 7) == (0, 0, tid, 1, 5, True)
    dk, issued, expected = v.DKGA04_EA11
    tid = tid_from_time(*(issued + (1993,)))
    assert token.encode(_key(dk), 11, 0, 0, tid, 1, 5) == expected
    assert token.decode(expected, _key(dk), 11) == (0, 0, tid, 1, 5, True)


def test_misty1_rfc2994_vectors():
    for key, plain, cipher in v.MISTY1_RFC:
        assert misty1.encrypt(_key(key), _key(plain)) == _key(cipher)
        assert misty1.decrypt(_key(key), _key(cipher)) == _key(plain)


def test_public_currency_token_uses_crc_c():
    key, digits, crc_c, plain_crc = v.CURRENCY
    cls, block = token.decode_block(digits, _key(key), 7)
    assert cls == 0 and block >> 60 == 4
    assert block & 0xFFFF == crc_c != plain_crc
    assert token.crc_ok(cls, block)
    # Re-encoding what it carries gives the same token back (100 units, rounded up by 624).
    sub, tid, value, rnd, ok = token.fields(cls, block)
    assert (value, rnd, ok) == (10000624, None, True)
    assert token.encode(_key(key), 7, 0, sub, tid, value, 0) == digits
