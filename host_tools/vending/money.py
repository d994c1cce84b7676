"""Amounts: decimal strings with at most two decimals <-> integer minor units. Never floats."""

import re

from host_tools.vending import StationError
from token_spec.units import PRICE_DECIMALS  # tariff prices: 1/10,000 currency units per kWh

_AMOUNT = re.compile(r"^\s*([0-9]{1,12})(?:\.([0-9]{1,2}))?\s*$")
_PRICE = re.compile(r"^\s*([0-9]{1,9})(?:\.([0-9]{1,4}))?\s*$")


def parse_amount(text, what="amount"):
    """ "12.50" -> 1250. Positive, at most two decimals, no sign, no exponent."""
    match = _AMOUNT.match(str(text))
    if not match:
        raise StationError(
            f"{what} {text!r} is not a positive amount with at most two decimals (e.g. 50, 12.50)"
        )
    minor = int(match.group(1)) * 100 + int((match.group(2) or "0").ljust(2, "0"))
    if minor <= 0:
        raise StationError(f"{what} must be positive, got {text!r}")
    return minor


def parse_price(text, what="price"):
    """A price per kWh, up to four decimals: "1.8573" -> 18573 (1/10,000 currency units)."""
    match = _PRICE.match(str(text))
    if not match:
        raise StationError(f"{what} {text!r} is not a price with at most four decimals")
    value = int(match.group(1)) * 10**PRICE_DECIMALS
    value += int((match.group(2) or "0").ljust(PRICE_DECIMALS, "0"))
    return value


def is_whole(text):
    """True for plain ASCII digits ("12"), which int() takes as written; not "²" or "١"."""
    text = str(text).strip()
    return text.isascii() and text.isdigit()


def fmt(minor):
    """1250 -> "12.50", -5 -> "-0.05"."""
    sign = "-" if minor < 0 else ""
    minor = abs(minor)
    return f"{sign}{minor // 100}.{minor % 100:02d}"


def fmt_price(value):
    """18573 -> "1.8573"."""
    scale = 10**PRICE_DECIMALS
    return f"{value // scale}.{value % scale:0{PRICE_DECIMALS}d}"
