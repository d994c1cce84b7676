"""Token acceptance: lockout -> parse -> decrypt -> check -> TID used/old -> range -> apply.

Decoding, TID extension (anchored to `tid_reference`: the high-water mark or the clock,
whichever is later), the TID-memory rules and the lockout schedule are token_spec's; this module
only orders the checks, keeps the lockout registers (`fail_count`, `lock_until`) and applies
each type's effect to the meter (docs/core.md, Tokens; SPEC.md section 8). A meter provisioned
for STS tokens shares the lockout, events and effects; sts_tokens.py runs its pipeline.
"""

import token_spec.errors as te
import token_spec.types as tt
from firmware.core import events as ev
from firmware.core.config import MAX_PRICE
from firmware.core.void import apply_void
from token_spec.acceptance import LOCKOUT_MAX_SECONDS, lockout_remaining, lockout_seconds
from token_spec.codec import decode_token
from token_spec.compat import const
from token_spec.key_change import add_key_part
from token_spec.tid import extend_tid, remember_tid, tid_reference, tid_status

# The longest lock token_spec allows (kept under this name for tests/shared/journal_faults.py).
LOCK_MAX = LOCKOUT_MAX_SECONDS
TEST_RELAY_SECONDS = const(5)  # a relay test opens the supply this long
_RESULT_INDEX = {code: i for i, code in enumerate(te.RESULT_CODES)}


def enter_token(m, digits, now):
    """Result code for one token entry on meter m (keypad and serial alike)."""
    result, token_type, value = _accept(m, digits, now)
    code = _RESULT_INDEX.get(result, 15)
    m.events.record(now, ev.TOKEN, token_type * 16 + code, value)
    return result


def _accept(m, digits, now):
    # (result, token type or -1, value for the event)
    left = lockout_remaining(m.lock_until, now)
    if left:
        if m.lock_until != now + left:
            m.lock_until = now + left  # the clock went back: never lock longer than the cap
            m.urgent = True
        return te.RESULT_LOCKED, -1, left
    if m.sts is not None:
        from firmware.core.sts_tokens import accept  # STS meters only: v1 never loads it

        return accept(m, digits, now)
    try:
        token_type, value, tid24 = decode_token(m.decoder_key, m.meter_number, digits)
    except te.TokenFormatError:
        return te.RESULT_REJECT, -1, 0  # not 20 digits: a typing slip, not a guess
    except te.TokenRejected:
        wrong_entry(m, now)
        return te.RESULT_REJECT, -1, m.fail_count
    except te.TokenError as exc:
        return exc.code, -1, 0
    if token_type == tt.TYPE_PUBLIC_TEST:
        m.last_test = value  # display only: no registers, no relay, no lockout reset
        return te.RESULT_ACCEPTED, token_type, value
    if token_type in tt.KEY_CHANGE_TYPES:
        return _key_part(m, token_type, value, now), token_type, m.key_revision
    full_tid = extend_tid(tid24, tid_reference(m.tid_high_water, now))
    seen = tid_status(full_tid, m.tids)
    if seen is not None:
        return seen, token_type, value
    if token_type == tt.TYPE_VOID:
        result = apply_void(m, full_tid, value, now)
    else:
        result = apply_effect(m, token_type, value, now)
    if result == te.RESULT_ACCEPTED:
        m.tid_high_water = max(m.tid_high_water, remember_tid(full_tid, m.tids))
        m.urgent = True
        end_wrong_entries(m)
    return result, token_type, value


def wrong_entry(m, now):
    # A 20-digit entry that failed the check: a possible guess (SPEC 8.3).
    m.fail_count = m.fail_count + 1 if m.fail_count < 255 else 255
    seconds = lockout_seconds(m.fail_count)
    m.urgent = True
    if seconds:
        m.lock_until = now + seconds
        m.events.record(now, ev.LOCKOUT, m.fail_count, seconds)


def end_wrong_entries(m):
    # Only a meter-specific `accepted` or a newly stored key part proves the person entering
    # holds this meter's key material (SPEC 8.3). Public test tokens, used/old/unsupported/
    # overflow tokens and replayed key parts may all be known to anyone, so they never get here.
    if m.fail_count:
        m.fail_count = 0
        m.urgent = True


def _key_part(m, token_type, payload, now):
    if m.key_parts[token_type - tt.TYPE_KEY_CHANGE_1] == payload:
        # Already stored: no state change at all, so a replay neither resets the lockout nor
        # costs a flash write. A full set here has already failed its key check.
        return te.RESULT_KEY_PART_STORED if None in m.key_parts else te.RESULT_REJECT
    try:
        parts, done = add_key_part(m.key_parts, token_type, payload, m.key_revision)
    except te.TokenError as exc:
        m.key_parts = getattr(exc, "parts", m.key_parts)
        m.urgent = True
        return exc.code
    m.key_parts = parts
    m.urgent = True
    end_wrong_entries(m)
    if done is None:
        return te.RESULT_KEY_PART_STORED
    m.decoder_key, m.key_revision = done  # the whole set arrived and checked: swap at once
    m.events.record(now, ev.KEY_CHANGE, m.key_revision, 0)
    return te.RESULT_ACCEPTED


def apply_effect(m, token_type, value, now):
    """Range checks, then a v1 token type's effect on the registers (also STS's, mapped by
    sts_tokens.py); anything but RESULT_ACCEPTED changes nothing."""
    if token_type == tt.TYPE_CREDIT:
        return te.RESULT_ACCEPTED if m.top_up(value, now) else te.RESULT_OVERFLOW
    if token_type == tt.TYPE_ADD_DEBT:
        if m.debt + value > 0x3FFFFFFF:
            return te.RESULT_OVERFLOW
        m.debt += value
    elif token_type == tt.TYPE_CLEAR_CREDIT:
        m.credit = 0
        m.ec_granted = 0
    elif token_type == tt.TYPE_CLEAR_TAMPER:
        m.tamper_latched = False
        m.events.record(now, ev.TAMPER, 2, 0)
    elif token_type == tt.TYPE_POWER_LIMIT:
        m.override("power", "limit_w", value)
        m.power_retry_at = 0  # a new limit gives the customer a fresh start
        m.power_trips = 0
    elif token_type == tt.TYPE_SET_PRICE:
        if m.config.kwh_meter:
            return te.RESULT_UNSUPPORTED  # kWh meters carry no tariff
        if value > MAX_PRICE:
            return te.RESULT_OVERFLOW
        m.override("", "tariff", {"type": "flat", "price": value})
    elif token_type == tt.TYPE_LOW_CREDIT:
        m.override("", "low_credit", value)
    elif token_type == tt.TYPE_DEBT_RECOVERY:
        m.override("debt", "percent", value)
    elif token_type == tt.TYPE_TEST:
        if value == tt.TEST_RELAY:
            m.test_until = now + TEST_RELAY_SECONDS
        m.last_test = value
    else:
        return te.RESULT_UNSUPPORTED
    return te.RESULT_ACCEPTED
