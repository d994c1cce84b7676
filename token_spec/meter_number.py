"""Meter numbers: 11 decimal digits, the last one a Luhn check digit over the first ten."""

from token_spec.errors import MeterNumberError

METER_NUMBER_LENGTH = 11
# The tweak of public (non-meter-specific) test tokens: a valid number no meter is given.
PUBLIC_METER_NUMBER = "00000000000"


def _strip_separators(text):
    return "".join(ch for ch in text if ch not in " -\t")


def luhn_digit(digits):
    """The Luhn check digit (a one-character string) for a string of decimal digits."""
    total = 0
    # Doubling starts with the rightmost payload digit (it sits next to the check digit).
    for pos, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if d < 0 or d > 9:
            raise MeterNumberError("meter number may contain only digits")
        if pos % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def make_meter_number(ten_digits):
    """Append the Luhn check digit to 10 digits, giving a valid 11-digit meter number."""
    digits = _strip_separators(str(ten_digits))
    if len(digits) != METER_NUMBER_LENGTH - 1:
        raise MeterNumberError(
            "a meter number is made from 10 digits, got %d characters" % len(digits)
        )
    return digits + luhn_digit(digits)


def check_meter_number(text):
    """Return the meter number as 11 digits (spaces and dashes removed) or raise
    MeterNumberError saying what is wrong with it."""
    if not isinstance(text, str):
        raise MeterNumberError("meter number must be text of 11 digits")
    digits = _strip_separators(text)
    for ch in digits:
        if ch < "0" or ch > "9":
            raise MeterNumberError("meter number may contain only digits, spaces and dashes")
    if len(digits) != METER_NUMBER_LENGTH:
        raise MeterNumberError("meter number must have 11 digits, got %d" % len(digits))
    if luhn_digit(digits[:-1]) != digits[-1]:
        raise MeterNumberError("meter number %s has a wrong check digit (mistyped?)" % digits)
    return digits
