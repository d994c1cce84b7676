"""Token IDs: minutes since 2020-01-01T00:00Z, carried modulo 2**24, extended without rollover.

Also the one definition of the meter's TID memory rules (used / old), SPEC.md §7.
"""

from token_spec.compat import const
from token_spec.errors import RESULT_OLD, RESULT_USED

_TID_BITS = const(24)
TID_MODULUS = const(0x1000000)  # 2**24 minutes, about 31.9 years
# How far ahead of the meter's reference a token's TID may lie: about 2 years, for clock
# and vending skew. Anything further is read as a past token (SPEC.md §7.2).
TID_AHEAD = const(0x100000)
# Remembered TIDs: at least this many (the meter may keep more).
TID_MEMORY_SIZE = const(50)


def tid_from_time(seconds):
    """Full TID (minutes since the token epoch) for a meter/station time in epoch seconds."""
    if seconds < 0:
        raise ValueError("time is before the token epoch 2020-01-01T00:00Z")
    return seconds // 60


def tid_reference(high_water, now):
    """The reference TID extension is anchored to: the meter's best idea of "now" in minutes.

    max(high_water, now // 60), with `now` the meter clock in seconds since the token epoch.
    A clock that is not set reads a time near the epoch, so the high-water mark wins."""
    minutes = now // 60
    return minutes if minutes > high_water else high_water


def extend_tid(tid24, reference):
    """The full TID congruent to tid24 (mod 2**24) in the window
    [reference + TID_AHEAD - 2**24 + 1, reference + TID_AHEAD] (SPEC.md §7.2).

    At most TID_AHEAD minutes (about 2 years) after the reference counts as the future;
    everything else is the past, so a replayed token however old comes out used or old. A result
    that would be negative is moved up by 2**24 (TIDs are never negative, none was issued before
    the epoch). `reference` is tid_reference(high_water, now), or just the high-water mark."""
    if not 0 <= tid24 < TID_MODULUS:
        raise ValueError("tid24 must be in 0..2**24-1")
    if reference < 0:
        raise ValueError("reference must not be negative")
    top = reference + TID_AHEAD
    full = top - (top - tid24) % TID_MODULUS
    if full < 0:
        full += TID_MODULUS
    return full


def tid_status(full_tid, remembered, capacity=TID_MEMORY_SIZE):
    """RESULT_USED, RESULT_OLD or None (acceptable) for a full TID against the TID memory.

    `remembered` holds the full TIDs of accepted tokens (at most `capacity`)."""
    if full_tid in remembered:
        return RESULT_USED
    if len(remembered) >= capacity and full_tid < min(remembered):
        return RESULT_OLD
    return None


def remember_tid(full_tid, remembered, capacity=TID_MEMORY_SIZE):
    """Add an accepted full TID to the memory list in place, evicting the smallest when full.
    Returns the new high-water mark (the largest remembered TID)."""
    remembered.append(full_tid)
    while len(remembered) > capacity:
        remembered.remove(min(remembered))
    return max(remembered)
