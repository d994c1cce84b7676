"""Result codes (what the meter shows) and the exceptions that carry them (SPEC.md §8)."""

RESULT_ACCEPTED = "accepted"
RESULT_REJECT = "reject"
RESULT_OLD = "old"
RESULT_USED = "used"
RESULT_LOCKED = "locked"
RESULT_OVERFLOW = "overflow"
RESULT_UNSUPPORTED = "unsupported"
RESULT_KEY_PART_STORED = "key_part_stored"

RESULT_CODES = (
    RESULT_ACCEPTED,
    RESULT_REJECT,
    RESULT_OLD,
    RESULT_USED,
    RESULT_LOCKED,
    RESULT_OVERFLOW,
    RESULT_UNSUPPORTED,
    RESULT_KEY_PART_STORED,
)


class TokenError(Exception):
    """A token was not accepted; `.code` is the result code the meter shows."""

    code = RESULT_REJECT


class TokenFormatError(TokenError):
    """Not 20 digits (wrong length or a character other than digits, spaces, dashes)."""

    code = RESULT_REJECT


class TokenRejected(TokenError):
    """20 digits, but not a token for this meter and key (decryption or check failed)."""

    code = RESULT_REJECT


class TokenUnsupported(TokenError):
    """Authentic, but of a reserved type or a value this format version does not define."""

    code = RESULT_UNSUPPORTED


class TokenOld(TokenError):
    """Older than everything the meter still remembers (SPEC.md §7), or a stale key change."""

    code = RESULT_OLD


class TokenUsed(TokenError):
    """Its TID was already accepted."""

    code = RESULT_USED


class TokenLocked(TokenError):
    """Entry is locked out after repeated wrong tokens."""

    code = RESULT_LOCKED


class TokenOverflow(TokenError):
    """Applying it would pass a register's maximum."""

    code = RESULT_OVERFLOW


class MeterNumberError(ValueError):
    """A meter number that is not 11 digits with a valid Luhn check digit."""
