"""STS codec parts: CRC, amounts, TIDs, digits, the cipher tables against their definition."""

import sts_vectors as v
from support import raises

from token_spec.sts import amount, misty1, sta, token
from token_spec.sts.crc import crc16
from token_spec.sts.digits import from_digits, normalize, to_digits
from token_spec.sts.sta_decrypt_tables import INV_PERM
from token_spec.sts.sta_encrypt_tables import PERM
from token_spec.sts.tid import ken_allows, tid_from_time, time_from_tid


def test_crc_published_checks():
    for data, expected in v.CRC_CHECKS:
        assert crc16(data) == expected
    assert crc16(0x0005C02A552710, True) != 0x1970  # CRC_C appends a byte


def test_table_driven_sta_matches_the_bit_loop():
    keys = (0xE653341F9D5BF36F, 0, (1 << 64) - 1, 0x0123456789ABCDEF)
    blocks = (0x05599863000119E6, 0, (1 << 64) - 1, 0x8000000000000001)
    for k in keys:
        for b in blocks:
            c = sta.encrypt(k.to_bytes(8, "big"), b.to_bytes(8, "big"))
            assert int.from_bytes(c, "big") == v.sta_by_definition(k, b)
            assert int.from_bytes(sta.decrypt(k.to_bytes(8, "big"), c), "big") == b


def test_permutation_tables_move_each_bit_where_p_says():
    for j in range(64):
        byte, bit = 7 - j // 8, j % 8
        entry = ((byte << 8) | (1 << bit)) * 8
        out = int.from_bytes(PERM[entry : entry + 8], "big")
        assert out == 1 << v.P[j]
        back = ((7 - v.P[j] // 8) << 8 | (1 << (v.P[j] % 8))) * 8
        assert int.from_bytes(INV_PERM[back : back + 8], "big") == 1 << j


def test_ciphers_reject_wrong_key_sizes():
    raises(ValueError, sta.encrypt, bytes(16), bytes(8))
    raises(ValueError, misty1.decrypt, bytes(8), bytes(8))
    raises(ValueError, token.decode, "23716100501183194197", bytes(8), 9)


def test_amount_boundaries_round_up():
    for units, carried in v.AMOUNT_BOUNDARIES:
        field = amount.encode_units(units)
        assert amount.decode_units(field) == carried, units
        assert amount.carried(units) == carried
    assert amount.encode_units(18201624) == 0xFFFF
    raises(ValueError, amount.encode_units, 18201625)
    raises(ValueError, amount.encode_units, -1)
    raises(ValueError, amount.encode_units, True)


def test_currency_amounts_signed_with_extended_exponent():
    assert amount.encode_currency(16383) == (16383, 0)
    assert amount.encode_currency(-5) == (5, 8)
    for value in (0, 1, 16384, 10**7, 10**12, -(10**9), amount.CURRENCY_MAX):
        field, se = amount.encode_currency(value)
        carried = amount.decode_currency(field, se)
        assert carried >= value, value  # rounds toward +infinity
        assert (carried < 0) == (value < 0) or carried == 0
    assert amount.decode_currency(0xFFFF, 7) == amount.CURRENCY_MAX
    raises(ValueError, amount.encode_currency, amount.CURRENCY_MAX + 1)


def test_tid_examples_and_limits():
    for issued, base, tid in v.TIDS:
        assert tid_from_time(*(issued + (base,))) == tid
        assert time_from_tid(tid, base) == issued
    assert tid_from_time(1993, 1, 1, 0, 0, 1993) == 0
    raises(ValueError, tid_from_time, 2024, 11, 24, 20, 16, 1993)  # past the 24 bits
    raises(ValueError, tid_from_time, 2013, 12, 31, 23, 59, 2014)  # before the base date
    raises(ValueError, tid_from_time, 2020, 1, 1, 0, 0, 2000)  # not a base date
    raises(ValueError, tid_from_time, 2021, 2, 29, 0, 0, 2014)  # not a date


def test_key_expiry_number():
    assert ken_allows((1 << 24) - 1, 255)
    assert ken_allows(0x05FFFF, 5) and not ken_allows(0x060000, 5)


def test_digits_transposition_round_trip_and_rejections():
    for cls in range(4):
        for block in (0, (1 << 64) - 1, 0x18000000, 0x05599863000119E6):
            digits = to_digits(cls, block)
            assert len(digits) == 20
            assert from_digits(digits) == (cls, block)
    assert normalize("2371 6100-5011 8319 4197") == "23716100501183194197"
    raises(ValueError, from_digits, "2371610050118319419")
    raises(ValueError, from_digits, "2371610050118319419x")
    raises(ValueError, from_digits, "%020d" % (1 << 66))  # above 2**66
    assert from_digits("%020d" % ((1 << 66) - 1))[0] == 3


def test_a_typo_is_a_crc_failure_not_an_exception():
    key = bytes.fromhex(v.DK_A)
    good = "23716100501183194197"
    assert token.decode(good, key, 7)[-1] is True
    assert token.decode("23716100501183194198", key, 7)[-1] is False
    assert token.decode(good, bytes(8), 7)[-1] is False  # wrong key


def test_every_subclass_round_trips_with_both_algorithms():
    keys = {7: bytes.fromhex(v.DK_A), 11: bytes(range(16))}
    cases = [(0, s, 123) for s in range(4)] + [(0, s, -5000) for s in range(4, 8)]
    cases += [(2, 0, 1000), (2, 1, 0xFFFF), (2, 2, 77), (2, 5, 0), (2, 6, 10), (2, 7, 9)]
    for ea, key in keys.items():
        for cls, sub, value in cases:
            digits = token.encode(key, ea, cls, sub, 0x123456, value, 9)
            got = token.decode(digits, key, ea)
            rnd = None if cls == 0 and sub >= 4 else 9
            assert got == (cls, sub, 0x123456, value, rnd, True), (ea, cls, sub)


def test_four_section_kct_for_misty1():
    old, new = bytes(range(16)), bytes(range(100, 116))
    tokens = token.encode_kct(old, 11, new, 0xA5, 2, 1, 2, 7, 654321)
    assert len(tokens) == 4
    words, sgc = [], {}
    for digits in tokens:
        cls, block = token.decode_block(digits, old, 11)
        assert cls == 2 and token.crc_ok(cls, block)
        sub = block >> 60
        words.append((sub, token.fields(cls, block)[2]))
        sgc[sub] = token.kct_fields(block)
    assert [s for s, _ in words] == [3, 4, 8, 9]
    key = dict(words)
    assert b"".join(key[s].to_bytes(4, "big") for s in (3, 8, 9, 4)) == new
    assert (sgc[9][0] << 12) | sgc[8][0] == 654321
    assert token.kct_fields(token.decode_block(tokens[0], old, 11)[1]) == (10, 2, 1, 0, 2)
    raises(ValueError, token.encode_kct, old, 11, bytes(8), 255, 1, 0, 2, 1, 1)


def test_encode_rejects_what_the_layout_cannot_carry():
    key = bytes.fromhex(v.DK_A)
    raises(ValueError, token.encode, key, 7, 0, 0, 1 << 24, 1, 5)  # TID over 24 bits
    raises(ValueError, token.encode, key, 7, 0, 0, 0, 1, 16)  # RND over 4 bits
    raises(ValueError, token.encode, key, 7, 0, 0, 0, 18201625, 5)  # amount too large
    raises(ValueError, token.encode, key, 7, 2, 1, 0, 0x10000, 5)  # register over 16 bits
    raises(ValueError, token.encode, key, 7, 2, 5, 0, 1, 5)  # the tamper pad is 0
    raises(ValueError, token.encode, key, 7, 2, 3, 0, 1, 5)  # a KCT is not a value token
    raises(ValueError, token.encode, key, 7, 0, 8, 0, 1, 5)  # reserved subclass
    raises(ValueError, token.encode_test, 2, 1, 0)
    raises(ValueError, token.encode_test, 0, 1 << 36, 0)
