"""Encode and decode 20-digit tokens (SPEC.md §3-§6)."""

import binascii

import token_spec.ff1 as ff1
from token_spec.amount import decode_amount, encode_amount
from token_spec.compat import const
from token_spec.errors import TokenFormatError, TokenRejected, TokenUnsupported
from token_spec.meter_number import PUBLIC_METER_NUMBER, check_meter_number
from token_spec.tid import TID_MODULUS
from token_spec.types import (
    AMOUNT_TYPES,
    DEBT_RECOVERY_MAX,
    DISPLAY_TESTS,
    KEY_CHANGE_TYPES,
    METER_TESTS,
    NO_VALUE_TYPES,
    RESERVED_TYPES,
    TYPE_DEBT_RECOVERY,
    TYPE_PUBLIC_TEST,
    TYPE_TEST,
    TYPE_VOID,
)

TOKEN_DIGITS = const(20)
PLAINTEXT_LIMIT = 1 << 66  # plaintexts are below 2**66; the rest of 10**20 is invalid
_CHECK_MASK = const(0x3FFFFF)  # 22 bits
_KEY_PART_BITS = const(40)
# Public test tokens are enciphered under this published key and the public meter number.
PUBLIC_TEST_KEY = bytes(16)


# FF1 contexts by (decoder key, meter number as given): a hit skips re-validating the meter
# number and rebuilding the FF1 cache key, a third of the cost of one token.
_contexts = {}


def _context(decoder_key, meter_number):
    if type(decoder_key) is not bytes:
        if not isinstance(decoder_key, bytearray):
            raise ValueError("decoder key must be 16 bytes")
        decoder_key = bytes(decoder_key)
    cache_key = (decoder_key, meter_number)
    ctx = _contexts.get(cache_key)
    if ctx is None:
        if len(_contexts) >= ff1.CACHE_SIZE:
            _contexts.clear()
        ctx = ff1.context(decoder_key, check_meter_number(meter_number).encode())
        _contexts[cache_key] = ctx
    return ctx


def _check_field(fields44):
    return binascii.crc32(fields44.to_bytes(6, "big")) & _CHECK_MASK


def _pack(token_type, tid24, value16):
    fields = (token_type << 40) | (tid24 << 16) | value16
    return (fields << 22) | _check_field(fields)


def _field_value(token_type, value, tid):
    """(tid24, value16) for the fields of a token; ValueError for a value the type forbids."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError("token value must be an integer")
    if token_type in KEY_CHANGE_TYPES:
        if tid not in (None, 0):
            raise ValueError("key-change parts carry no TID (pass tid=0)")
        if not 0 <= value < (1 << _KEY_PART_BITS):
            raise ValueError("key-change payload must be 40 bits")
        return value >> 16, value & 0xFFFF
    if token_type == TYPE_PUBLIC_TEST and tid is None:
        tid = 0
    if not isinstance(tid, int) or isinstance(tid, bool) or tid < 0:
        raise ValueError("TID must be a non-negative integer (minutes since 2020-01-01)")
    if token_type in AMOUNT_TYPES:
        value16 = encode_amount(value)
    elif token_type == TYPE_VOID:
        if value == 0:
            raise ValueError("a void token names the amount it takes back (at least 1)")
        value16 = encode_amount(value)
    elif token_type in NO_VALUE_TYPES:
        if value != 0:
            raise ValueError("this token type carries no value (use 0)")
        value16 = 0
    elif token_type == TYPE_DEBT_RECOVERY:
        if not 0 <= value <= DEBT_RECOVERY_MAX:
            raise ValueError("debt-recovery percentage must be 0..100")
        value16 = value
    elif token_type == TYPE_TEST:
        if value not in METER_TESTS:
            raise ValueError("unknown test number %d" % value)
        value16 = value
    elif token_type == TYPE_PUBLIC_TEST:
        if value not in DISPLAY_TESTS:
            raise ValueError("public test tokens may only select display tests")
        if tid != 0:
            raise ValueError("public test tokens carry TID 0 (there is one per test)")
        value16 = value
    else:  # power limit: watts, raw
        if not 0 <= value <= 0xFFFF:
            raise ValueError("power limit must be 0..65535 W")
        value16 = value
    return tid % TID_MODULUS, value16


def encode_token(decoder_key, meter_number, token_type, value, tid):
    """The 20-digit token carrying `value` of `token_type` with TID `tid` (full or 24-bit; only
    tid mod 2**24 is carried) for one meter. ValueError for anything the format cannot carry."""
    if not isinstance(token_type, int) or not 0 <= token_type <= 15:
        raise ValueError("token type must be 0..15")
    if token_type in RESERVED_TYPES:
        raise ValueError("token type %d is reserved in format v1" % token_type)
    tid24, value16 = _field_value(token_type, value, tid)
    plain = _pack(token_type, tid24, value16)
    if token_type == TYPE_PUBLIC_TEST:
        check_meter_number(meter_number)  # not part of the token, but must still be valid
        ctx = _context(PUBLIC_TEST_KEY, PUBLIC_METER_NUMBER)
    else:
        ctx = _context(decoder_key, meter_number)
    return "%020d" % ctx.encrypt_int(plain)


def normalize_token(text):
    """The 20 digits of a token typed with optional spaces and dashes; TokenFormatError else."""
    if not isinstance(text, str):
        raise TokenFormatError("a token is text of 20 digits")
    digits = text.replace(" ", "").replace("-", "").replace("\t", "")
    # bytes.isdigit is ASCII-only (str.isdigit also accepts other scripts' digits).
    if len(digits) == TOKEN_DIGITS and digits.encode().isdigit():
        return digits
    if digits and (not digits.encode().isdigit() or len(digits.encode()) != len(digits)):
        raise TokenFormatError("a token may contain only digits, spaces and dashes")
    raise TokenFormatError("a token has 20 digits, got %d" % len(digits))


def format_token(digits):
    """Five groups of four digits: "1234 5678 9012 3456 7890"."""
    digits = normalize_token(digits)
    return " ".join(digits[i : i + 4] for i in range(0, TOKEN_DIGITS, 4))


def _open(ctx, number):
    # (type, tid24, value16) if the deciphered number is a well-formed plaintext, else None.
    plain = ctx.decrypt_int(number)
    if plain >= PLAINTEXT_LIMIT:
        return None
    fields = plain >> 22
    if plain & _CHECK_MASK != _check_field(fields):
        return None
    return fields >> 40, (fields >> 16) & 0xFFFFFF, fields & 0xFFFF


def _interpret(token_type, tid24, value16):
    if token_type in RESERVED_TYPES:
        raise TokenUnsupported("token type %d is not supported by this meter" % token_type)
    if token_type in KEY_CHANGE_TYPES:
        return token_type, (tid24 << 16) | value16, None
    if token_type in AMOUNT_TYPES:
        return token_type, decode_amount(value16), tid24
    if token_type == TYPE_VOID:
        amount = decode_amount(value16)
        if amount == 0:  # outside the domain: also what the frozen "reserved type 12" vector is
            raise TokenUnsupported("void token for no amount")
        return token_type, amount, tid24
    if token_type == TYPE_DEBT_RECOVERY and value16 > DEBT_RECOVERY_MAX:
        raise TokenUnsupported("debt-recovery percentage above 100")
    if token_type in NO_VALUE_TYPES and value16 != 0:
        raise TokenUnsupported("token carries a value its type does not define")
    if token_type == TYPE_TEST and value16 not in METER_TESTS:
        raise TokenUnsupported("unknown test number %d" % value16)
    if token_type == TYPE_PUBLIC_TEST:
        # Only the published public test tokens are valid (see _public_test_numbers).
        raise TokenUnsupported("public test token under a meter key")
    return token_type, value16, tid24


_public_tests = None


def _public_test_numbers():
    # The public test tokens are constants (TID 0, published key and tweak): one per display
    # test. Comparing against them costs a dict lookup instead of a second decryption.
    global _public_tests
    if _public_tests is None:
        ctx = _context(PUBLIC_TEST_KEY, PUBLIC_METER_NUMBER)
        tests = {}
        for test in DISPLAY_TESTS:
            tests[ctx.encrypt_int(_pack(TYPE_PUBLIC_TEST, 0, test))] = test
        _public_tests = tests
    return _public_tests


def decode_token(decoder_key, meter_number, digits, public_test=True):
    """(token_type, value, tid24) of a token for this meter, or raise a TokenError.

    `value` is the amount for amount types, the 40-bit payload for key-change parts (whose tid24
    is None: they carry no TID), the raw value otherwise. If the meter's key rejects the token
    and `public_test` is true, it is compared with the public test tokens (SPEC.md §5.7)."""
    number = int(normalize_token(digits))
    fields = _open(_context(decoder_key, meter_number), number)
    if fields is not None:
        return _interpret(*fields)
    if public_test:
        test = _public_test_numbers().get(number)
        if test is not None:
            return TYPE_PUBLIC_TEST, test, 0
    raise TokenRejected("token rejected: not valid for this meter (mistyped?)")
