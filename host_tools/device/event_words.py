"""A meter event in words: `token rejected (wrong entry 1)` rather than `token a=-15 b=1`.

The meter logs compact integer pairs (docs/core.md, Events); this is how `prepay device
events` and `prepay device monitor` show them to a person. Token types and results come from
token_spec. The firmware's relay reasons, zones and boot states are copied below as names only
(the host never imports firmware); tests/device/test_event_words.py fails if they drift.
"""

from token_spec.errors import RESULT_CODES
from token_spec.types import TYPE_NAMES

# firmware/core/policy.py REASON_NAMES, ZONE_NAMES; firmware/core/events.py BOOT_STATUS_NAMES.
RELAY_REASONS = {
    0: "credit",
    1: "emergency_credit",
    2: "friendly",
    3: "never_disconnect",
    16: "no_credit",
    17: "friendly_floor",
    18: "power_limit",
    19: "tamper",
    20: "test",
}
ZONES = ("normal", "low", "zero", "emergency", "disconnected")
BOOT_STATES = ("unknown", "restored", "blank", "corrupt")

_RESULT_WORDS = {
    "accepted": "accepted",
    "reject": "rejected",
    "old": "refused: older than the meter's tokens",
    "used": "refused: already used",
    "locked": "refused: keypad locked",
    "overflow": "refused: out of range",
    "unsupported": "refused: not for this meter",
    "key_part_stored": "key part stored",
}


def _pick(names, index):
    if isinstance(names, dict):
        return names.get(index, "code %d" % index)
    return names[index] if 0 <= index < len(names) else "code %d" % index


def _token(a, b):
    token_type, index = a // 16, a % 16
    result = RESULT_CODES[index] if index < len(RESULT_CODES) else "code %d" % index
    words = _RESULT_WORDS.get(result, result)
    if token_type < 0:
        if result == "reject":
            return "token rejected (wrong entry %d)" % b if b else "token rejected (not 20 digits)"
        if result == "locked":
            return "token refused: keypad locked for %d s" % b
        return "token %s" % words
    kind = TYPE_NAMES.get(token_type, "type %d" % token_type)
    return "%s token %s (value %d)" % (kind, words, b)


def _relay(a, b):
    return "supply %s (%s)" % ("on" if a else "off", _pick(RELAY_REASONS, b).replace("_", " "))


def _emergency(a, b):
    if a < 0:
        return "emergency credit refused"
    return "emergency credit granted (%d)" % b if a else "emergency credit repaid (%d)" % b


def _tamper(a, b):
    what = {1: "cover opened", 0: "cover closed", 2: "tamper cleared by token"}.get(
        a, "code %d" % a
    )
    return "tamper: %s%s" % (what, ", supply disconnected" if b and a != 2 else "")


_WORDS = {
    "boot": lambda a, b: "boot (registers %s)" % _pick(BOOT_STATES, b),
    "token": _token,
    "zone": lambda a, b: "credit zone %s -> %s" % (_pick(ZONES, a), _pick(ZONES, b)),
    "relay": _relay,
    "emergency": _emergency,
    "power_trip": lambda a, b: "over the power limit: %d W, trip %d" % (b, a),
    "tamper": _tamper,
    "config": lambda a, b: "config %d %s" % (b, "applied" if a else "refused"),
    "lockout": lambda a, b: "keypad locked %d s after %d wrong entries" % (b, a),
    "key_change": lambda a, b: "decoder key changed to revision %d" % a,
    "debt": lambda a, b: (
        "debt added by a void token: %d" % b if a == 1 else "debt recovered from a top-up: %d" % b
    ),
    "power_restore": lambda a, b: "supply retried after %d power trips" % a,
    "journal_fallback": lambda a, b: (
        "no journal partition: state kept in a flash file (development boards only; reflash)"
    ),
}


def describe(event):
    """One line of words for an event dict from the serial protocol (`event`, `a`, `b`)."""
    kind = event.get("event") or event.get("kind")
    a, b = event.get("a", 0), event.get("b", 0)
    words = _WORDS.get(kind)
    return words(a, b) if words else "%s a=%d b=%d" % (kind, a, b)
