"""The 20 digits of an STS token and the class-bit transposition (STS.md §1.5).

The 2 class bits travel in clear: they replace bits 28 and 27 of the enciphered 64-bit block,
and the two bits they displace become bits 65 and 64 of the 66-bit number printed in decimal.
"""

from token_spec.compat import const

TOKEN_DIGITS = const(20)
_LIMIT = 1 << 66  # 2**66 < 10**20: every 66-bit number fits in 20 digits, not the reverse
_MASK64 = (1 << 64) - 1
_CLASS_BITS = const(0x18000000)  # bits 28 and 27


def normalize(text):
    """The 20 digits of a token typed with spaces or dashes; ValueError otherwise."""
    digits = text.replace(" ", "").replace("-", "")
    if len(digits) != TOKEN_DIGITS or not digits.isdigit():
        raise ValueError("an STS token is 20 digits (got %d characters)" % len(digits))
    return digits


def to_digits(cls, block):
    """The 20 digits for a 2-bit class and an enciphered (class 1: plain) 64-bit block."""
    low = block & 0xFFFFFFFF  # the transposed bits live in the low word
    moved = (low >> 27) & 3
    low = (low & ~_CLASS_BITS) | (cls << 27)
    number = (moved << 64) | (block & ~0xFFFFFFFF & _MASK64) | low
    return "%020d" % number


def from_digits(digits):
    """(class, enciphered block) of 20 digits; ValueError if they are not an STS token."""
    digits = normalize(digits)
    number = int(digits)
    if number >= _LIMIT:
        raise ValueError("not an STS token: the number is above 2**66")
    low = number & 0xFFFFFFFF
    cls = (low >> 27) & 3
    low = (low & ~_CLASS_BITS) | ((number >> 64) << 27)
    return cls, (number & _MASK64 & ~0xFFFFFFFF) | low
