"""STS token layouts (STS.md §1.1, §4): encode for the host, decode for the meter.

A token is Class(2) | block(64). Bits 63..60 of the block are the subclass and 15..0 the CRC
over `Class << 48 | block >> 16`; the 44 bits between depend on class and subclass:

    class 0 (credit) and class 2 subclasses 0 1 2 5 6 7:  RND(4) TID(24) value(16)
        credit 0-3 and power limits (2/0, 2/6) carry the amount encoding; currency credit
        (0/4-7) carries S&E in RND's place and CRC_C; 2/1 register, 2/2 rate, 2/5 pad 0,
        2/7 water meter factor are raw 16-bit values
    class 1 (test/display, not enciphered):  0: Control(36) Mfr(8)   1: Control(28) Mfr(16)
    class 2 KCTs:  3: KENHO(4) KRN(4) RO(1) Res(1) KT(2) NKHO(32)   4: KENLO(4) TI(8) NKLO(32)
                   8: SGC low 12 bits, NKMO2(32)   9: SGC high 12 bits, NKMO1(32)  (EA11 only)

Decoding never raises on a wrong key or a typo: it returns crc_ok False, as a meter reports
a CRC error. It raises ValueError only for digits that are not a token at all.
"""

from token_spec.compat import const
from token_spec.sts import amount
from token_spec.sts.crc import crc16, is_currency
from token_spec.sts.digits import from_digits, to_digits
from token_spec.sts.tid import check_tid

EA07 = const(7)
EA11 = const(11)
CLASS_CREDIT = const(0)
CLASS_TEST = const(1)
CLASS_MANAGEMENT = const(2)

# Class 2 subclasses
SET_POWER_LIMIT = const(0)
CLEAR_CREDIT = const(1)
SET_TARIFF_RATE = const(2)
KCT_1ST = const(3)
KCT_2ND = const(4)
CLEAR_TAMPER = const(5)
SET_PHASE_UNBALANCE = const(6)
SET_WATER_FACTOR = const(7)
KCT_3RD = const(8)
KCT_4TH = const(9)
KCT_SUBCLASSES = (KCT_1ST, KCT_2ND, KCT_3RD, KCT_4TH)
# Class 2 subclasses whose 16-bit value is a raw number, not the amount encoding.
_RAW_MANAGEMENT = (CLEAR_CREDIT, SET_TARIFF_RATE, CLEAR_TAMPER, SET_WATER_FACTOR)
_AMOUNT_MANAGEMENT = (SET_POWER_LIMIT, SET_PHASE_UNBALANCE)

_M32 = const(0xFFFFFFFF)


def _cipher(ea):
    # Imported on first use: a meter loads only the algorithm its key is for.
    if ea == EA07:
        from token_spec.sts import sta

        return sta
    if ea == EA11:
        from token_spec.sts import misty1

        return misty1
    raise ValueError("encryption algorithm must be EA07 or EA11 (EA09 is not supported)")


def _seal(cls, subclass, payload44):
    """The plain 64-bit block: subclass, the 44-bit payload and the CRC."""
    top = (subclass << 44) | payload44
    return (top << 16) | crc16((cls << 48) | top, is_currency(cls, subclass))


def _finish(cls, block, key, ea):
    if cls != CLASS_TEST:
        block = int.from_bytes(_cipher(ea).encrypt(key, block.to_bytes(8, "big")), "big")
    return to_digits(cls, block)


def _int(name, value, low, high):
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ValueError("%s must be an integer %d..%d" % (name, low, high))
    return value


def _uses_units(cls, subclass):
    """Credit in 0.1 units and the power limits: the 2-bit-exponent amount encoding."""
    if cls == CLASS_CREDIT:
        return subclass <= 3
    return cls == CLASS_MANAGEMENT and subclass in _AMOUNT_MANAGEMENT


def value_field(cls, subclass, value):
    """(16-bit field, S&E nibble or None) for a transfer value in the token's base unit."""
    if _uses_units(cls, subclass):
        return amount.encode_units(value), None
    if is_currency(cls, subclass):
        return amount.encode_currency(value)
    if cls == CLASS_MANAGEMENT and subclass in _RAW_MANAGEMENT:
        if subclass == CLEAR_TAMPER:
            _int("the ClearTamperCondition pad", value, 0, 0)
        return _int("the value", value, 0, 0xFFFF), None
    raise ValueError("class %d subclass %d is not a value token" % (cls, subclass))


def encode(key, ea, cls, subclass, tid, value, rnd):
    """The 20 digits of a class 0 credit or a class 2 value token (not a KCT).

    `value` is in the token's base unit before the amount encoding (which rounds up). For
    currency subclasses the sign and exponent replace RND, so `rnd` is not carried."""
    _int("RND", rnd, 0, 15)
    check_tid(tid)
    field, se = value_field(cls, subclass, value)
    top4 = rnd if se is None else se
    return _finish(cls, _seal(cls, subclass, (top4 << 40) | (tid << 16) | field), key, ea)


def encode_test(subclass, control, mfr_code):
    """The 20 digits of a class 1 test/display token (not enciphered, not meter-specific)."""
    if subclass == 0:
        payload = (_int("control", control, 0, (1 << 36) - 1) << 8) | _int(
            "manufacturer code", mfr_code, 0, 99
        )
    elif subclass == 1:
        payload = (_int("control", control, 0, (1 << 28) - 1) << 16) | _int(
            "manufacturer code", mfr_code, 0, 9999
        )
    else:
        raise ValueError("class 1 subclass must be 0 (2-digit) or 1 (4-digit manufacturer code)")
    return to_digits(CLASS_TEST, _seal(CLASS_TEST, subclass, payload))


def encode_kct(key, ea, new_key, ken, krn, ro, kt, ti, sgc):
    """The key change tokens, enciphered under the old `key`: two for EA07 (8-byte new key),
    four for EA11 (16-byte new key: NKHO NKMO2 NKMO1 NKLO, big-endian)."""
    _int("KEN", ken, 0, 255)
    _int("KRN", krn, 1, 15)
    _int("RO", ro, 0, 1)
    _int("KT", kt, 0, 3)
    _int("TI", ti, 0, 255)
    _int("SGC", sgc, 0, 999999)
    size = 8 if ea == EA07 else 16
    _cipher(ea)
    if len(new_key) != size:
        raise ValueError("the new key for EA%02d must be %d bytes" % (ea, size))
    words = [int.from_bytes(new_key[i : i + 4], "big") for i in range(0, size, 4)]
    first = ((ken >> 4) << 40) | (krn << 36) | (ro << 35) | (kt << 32) | words[0]
    second = ((ken & 15) << 40) | (ti << 32) | words[-1]
    blocks = [(KCT_1ST, first), (KCT_2ND, second)]
    if ea == EA11:
        blocks.append((KCT_3RD, ((sgc & 0xFFF) << 32) | words[1]))
        blocks.append((KCT_4TH, ((sgc >> 12) << 32) | words[2]))
    return [_finish(CLASS_MANAGEMENT, _seal(CLASS_MANAGEMENT, s, p), key, ea) for s, p in blocks]


def decode_block(digits, key, ea):
    """(class, plain 64-bit block) of 20 digits; class 1 needs no key."""
    cls, block = from_digits(digits)
    if cls != CLASS_TEST:
        block = int.from_bytes(_cipher(ea).decrypt(key, block.to_bytes(8, "big")), "big")
    return cls, block


def crc_ok(cls, block):
    top = block >> 16
    return crc16((cls << 48) | top, is_currency(cls, top >> 44)) == block & 0xFFFF


def fields(cls, block):
    """(subclass, tid, value, rnd, crc_ok) of a plain block.

    tid and rnd are None where the layout has none (class 1, KCTs, reserved subclasses);
    value is the transfer value in the token's base unit (signed for currency), the control
    field for class 1, the new-key word for a KCT, the raw 44-bit payload where reserved."""
    ok = crc_ok(cls, block)
    subclass = block >> 60
    field = (block >> 16) & 0xFFFF
    tid = (block >> 32) & 0xFFFFFF
    rnd = (block >> 56) & 15
    if _uses_units(cls, subclass):
        return subclass, tid, amount.decode_units(field), rnd, ok
    if is_currency(cls, subclass):
        return subclass, tid, amount.decode_currency(field, rnd), None, ok
    if cls == CLASS_MANAGEMENT and subclass in _RAW_MANAGEMENT:
        return subclass, tid, field, rnd, ok
    if cls == CLASS_MANAGEMENT and subclass in KCT_SUBCLASSES:
        return subclass, None, (block >> 16) & _M32, None, ok
    if cls == CLASS_TEST and subclass <= 1:
        return subclass, None, test_fields(block)[0], None, ok
    return subclass, None, (block >> 16) & 0xFFFFFFFFFFF, None, ok


def decode(digits, key, ea):
    """(class, subclass, tid, value, rnd, crc_ok) of 20 digits under a decoder key and EA."""
    cls, block = decode_block(digits, key, ea)
    return (cls,) + fields(cls, block)


def test_fields(block):
    """(control, manufacturer code) of a class 1 subclass 0 or 1 block."""
    if block >> 60 == 0:
        return (block >> 24) & 0xFFFFFFFFF, (block >> 16) & 0xFF
    return (block >> 32) & 0xFFFFFFF, (block >> 16) & 0xFFFF


def kct_fields(block):
    """The fields of a KCT block besides the key word, by subclass:
    3: (KENHO, KRN, RO, Res, KT)   4: (KENLO, TI)   8, 9: (12 SGC bits,)."""
    subclass = block >> 60
    if subclass == KCT_1ST:
        return (
            (block >> 56) & 15,
            (block >> 52) & 15,
            (block >> 51) & 1,
            (block >> 50) & 1,
            (block >> 48) & 3,
        )
    if subclass == KCT_2ND:
        return (block >> 56) & 15, (block >> 48) & 0xFF
    return ((block >> 48) & 0xFFF,)
