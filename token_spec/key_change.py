"""Key change: four tokens carrying a new decoder key and revision (SPEC.md §5.5).

Payload (160 bits) = new key (128) || revision (8) || key-check value (24); part k (type
TYPE_KEY_CHANGE_1 + k) carries bits 159-40k .. 120-40k in its 24-bit TID and 16-bit value
fields. The parts are enciphered under the CURRENT decoder key.

The meter side is pure: `add_key_part(parts, token_type, payload, current_revision)` takes and
returns the stored parts as a 4-element list of ints or None, which the meter persists as is
(`pack_key_parts` / `unpack_key_parts` give a fixed 24-byte form).
"""

from token_spec.codec import encode_token
from token_spec.errors import TokenOld, TokenRejected
from token_spec.keys import key_check_value
from token_spec.types import KEY_CHANGE_TYPES, TYPE_KEY_CHANGE_1

KEY_PARTS = 4
_PART_MASK = (1 << 40) - 1


def key_change_payloads(new_key, new_revision):
    """The four 40-bit payloads for a key change to `new_key` (16 bytes) at `new_revision`."""
    if not isinstance(new_key, (bytes, bytearray)) or len(new_key) != 16:
        raise ValueError("new decoder key must be 16 bytes")
    if not isinstance(new_revision, int) or not 0 <= new_revision <= 255:
        raise ValueError("key revision must be 0..255")
    whole = (int.from_bytes(new_key, "big") << 32) | (new_revision << 24)
    whole |= key_check_value(new_key)
    return [(whole >> (40 * (KEY_PARTS - 1 - k))) & _PART_MASK for k in range(KEY_PARTS)]


def key_change_tokens(current_key, meter_number, new_key, new_revision):
    """The four key-change tokens, in part order, enciphered under `current_key`."""
    payloads = key_change_payloads(new_key, new_revision)
    return [
        encode_token(current_key, meter_number, TYPE_KEY_CHANGE_1 + k, payloads[k], 0)
        for k in range(KEY_PARTS)
    ]


def empty_key_parts():
    """Stored-parts state with nothing stored."""
    return [None] * KEY_PARTS


def add_key_part(parts, token_type, payload, current_revision):
    """Store one decoded key-change part; return (new_parts, result).

    result is None while parts are missing, else (new_key, new_revision) — and new_parts is
    empty again. Raises TokenRejected if the complete set fails its key-check value (the parts
    stay stored: re-entering the right token replaces a wrong one), TokenOld if the new revision
    is not above `current_revision` (the set is discarded). Either error has `.parts`: the
    state to persist. `parts` itself is not modified."""
    if token_type not in KEY_CHANGE_TYPES:
        raise ValueError("not a key-change part")
    if not 0 <= payload <= _PART_MASK:
        raise ValueError("key-change payload must be 40 bits")
    new_parts = list(parts)
    new_parts[token_type - TYPE_KEY_CHANGE_1] = payload
    for part in new_parts:
        if part is None:
            return new_parts, None
    whole = 0
    for part in new_parts:
        whole = (whole << 40) | part
    key = (whole >> 32).to_bytes(16, "big")
    revision = (whole >> 24) & 0xFF
    if key_check_value(key) != whole & 0xFFFFFF:
        error = TokenRejected("key-change parts do not belong together (key check failed)")
        error.parts = new_parts
        raise error
    if revision <= current_revision:
        error = TokenOld(
            "key change to revision %d, but the meter is at %d" % (revision, current_revision)
        )
        error.parts = empty_key_parts()
        raise error
    return empty_key_parts(), (key, revision)


def pack_key_parts(parts):
    """24 bytes: per part a presence byte and 5 payload bytes."""
    out = b""
    for part in parts:
        out += b"\x00" + bytes(5) if part is None else b"\x01" + part.to_bytes(5, "big")
    return out


def unpack_key_parts(blob):
    """Inverse of pack_key_parts."""
    if len(blob) != 6 * KEY_PARTS:
        raise ValueError("stored key parts must be 24 bytes")
    parts = []
    for k in range(KEY_PARTS):
        chunk = blob[6 * k : 6 * k + 6]
        parts.append(int.from_bytes(chunk[1:], "big") if chunk[0] else None)
    return parts
