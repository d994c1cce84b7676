"""STS amount encodings (STS.md §1.3): the 16-bit transfer amount, both ways.

Value = 10**e * m + sum(2**14 * 10**(n-1) for n in 1..e), mantissa m in 14 bits. For units
(0.1 kWh / 0.1 m3 / 0.1 time unit, and watts for power limits) e has 2 bits. For currency
(class 0 subclasses 4-7, 10**-5 currency units) e has 5 bits: e0 e1 in amount bits 14-15,
e2..e4 with the sign in the 4-bit S&E field that takes RND's place: S&E = s<<3 | e>>2.

The encoders round up, as the standard's vending side does (STS.md §1.3); a vending station
that must sell exactly what it charges asks `carried()` first. Integers only.
"""

from token_spec.compat import const

_MANTISSA = const(16383)
UNITS_MAX = const(18201624)  # e = 3, m = 16383


def _offset(e):
    # sum(2**14 * 10**(n-1), n = 1..e) = 16384 * (10**e - 1) / 9
    return 16384 * (10**e - 1) // 9


def _encode(units, e_max, up):
    """(e, m) for a non-negative integer; rounds up (or down with up=False)."""
    if units <= _MANTISSA:
        return 0, units
    for e in range(1, e_max + 1):
        top = _offset(e) + _MANTISSA * 10**e
        if units <= top:
            num = units - _offset(e)
            if num < 0:  # in the gap below this exponent's first value
                return (e, 0) if up else (e - 1, _MANTISSA)
            p = 10**e
            return e, ((num + p - 1) // p if up else num // p)
    raise ValueError("too large")


def _check(value):
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError("an amount is an integer number of base units")


def encode_units(units):
    """The 16-bit amount field for 0 <= units <= UNITS_MAX, rounded up."""
    _check(units)
    if units < 0 or units > UNITS_MAX:
        raise ValueError("amount %d is outside 0..%d units" % (units, UNITS_MAX))
    e, m = _encode(units, 3, True)
    return (e << 14) | m


def decode_units(field):
    """The number of base units a 16-bit amount field carries."""
    e = field >> 14
    return (field & _MANTISSA) * 10**e + _offset(e)


def carried(units):
    """What a token for `units` actually carries after rounding up (>= units)."""
    return decode_units(encode_units(units))


CURRENCY_MAX = _offset(31) + _MANTISSA * 10**31


def encode_currency(value):
    """(amount field, S&E nibble) for a signed value in 10**-5 currency units.

    Rounds toward +infinity: up for credit, toward zero for a negative transfer."""
    _check(value)
    if value < -CURRENCY_MAX or value > CURRENCY_MAX:
        raise ValueError("currency amount %d is outside +-%d" % (value, CURRENCY_MAX))
    sign = 1 if value < 0 else 0
    e, m = _encode(-value if sign else value, 31, not sign)
    return ((e & 3) << 14) | m, (sign << 3) | (e >> 2)


def decode_currency(field, se):
    """The signed value in 10**-5 currency units of an amount field and its S&E nibble."""
    e = ((se & 7) << 2) | (field >> 14)
    magnitude = (field & _MANTISSA) * 10**e + _offset(e)
    return -magnitude if se & 8 else magnitude
