"""Void tokens (SPEC.md §5.8): which TID a void token names, one definition for both sides.

A void token carries its own TID, one more than the TID of the token it voids: the station
leaves the TID after every token it issues free for that (it allocates max(minute, last + 2)),
so a void needs no extra field and is itself TID-checked (a replayed void answers `used`).
"""

VOID_TID_OFFSET = 1


def void_tid(target_tid):
    """The TID of the void token for the token with TID `target_tid`."""
    return target_tid + VOID_TID_OFFSET


def voided_tid(void_full_tid):
    """The full TID of the token a void token (full TID `void_full_tid`) names."""
    return void_full_tid - VOID_TID_OFFSET
