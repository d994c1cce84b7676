"""Amount encoding in a token's 16-bit value: 2-bit exponent e, 14-bit mantissa m,
amount = m * 10**e. The canonical encoding uses the smallest e (SPEC.md §5.1)."""

from token_spec.compat import const

_MANTISSA_MAX = const(16383)  # 2**14 - 1
_EXPONENT_MAX = const(3)
MAX_AMOUNT = const(16383000)  # _MANTISSA_MAX * 10**_EXPONENT_MAX
_POWERS = (1, 10, 100, 1000)


def _check_int(amount):
    if not isinstance(amount, int) or isinstance(amount, bool):
        raise ValueError("amount must be an integer (register units)")


def encode_amount(amount):
    """The canonical 16-bit value for `amount`; ValueError if it is not representable."""
    _check_int(amount)
    if 0 <= amount <= _MANTISSA_MAX:
        return amount  # exponent 0: the common case, no search
    if amount < 0 or amount > MAX_AMOUNT:
        raise ValueError("amount %d is outside 0..%d" % (amount, MAX_AMOUNT))
    for e in range(_EXPONENT_MAX + 1):
        p = _POWERS[e]
        if amount % p == 0 and amount // p <= _MANTISSA_MAX:
            return (e << 14) | (amount // p)
        if amount % p != 0:
            break
    below, above = nearest_representable(amount)
    raise ValueError(
        "amount %d is not exactly representable in a token; nearest are %s and %s"
        % (amount, below, above)
    )


def decode_amount(value16):
    """The amount a 16-bit value encodes (any exponent/mantissa pair is accepted)."""
    if not 0 <= value16 <= 0xFFFF:
        raise ValueError("amount field must be 16 bits")
    return (value16 & _MANTISSA_MAX) * _POWERS[value16 >> 14]


def is_representable(amount):
    """True if `amount` (an int) can be carried exactly by an amount token."""
    _check_int(amount)
    if amount < 0 or amount > MAX_AMOUNT:
        return False
    for p in _POWERS:
        if amount % p == 0 and amount // p <= _MANTISSA_MAX:
            return True
    return False


def nearest_representable(amount):
    """(below, above): the nearest representable amounts <= and >= `amount`.

    Either is None where none exists (below 0 or above MAX_AMOUNT). For a representable amount
    both equal it."""
    _check_int(amount)
    if amount < 0:
        return (None, 0)
    if amount > MAX_AMOUNT:
        return (MAX_AMOUNT, None)
    # The step between neighbours is the smallest power whose mantissa range reaches `amount`.
    # Below it, the top of the finer range (_MANTISSA_MAX * previous power) may lie closer than
    # the coarse grid: 16384 -> 16383, not 16380.
    top_of_finer = 0
    for p in _POWERS:
        if amount <= _MANTISSA_MAX * p:
            on_grid = amount // p * p
            above = on_grid if on_grid == amount else on_grid + p
            return (max(on_grid, top_of_finer), above)
        top_of_finer = _MANTISSA_MAX * p
    return (MAX_AMOUNT, None)  # unreachable: amount <= MAX_AMOUNT
