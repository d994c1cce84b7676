"""The meter's status report (the `status` protocol command)."""

from firmware.core import policy
from token_spec.acceptance import lockout_remaining


def status(m, now):
    """What the `status` protocol command returns (plain JSON-able dict, no secrets)."""
    cfg = m.config
    reason = policy.relay_reason(m, now)
    in_use = -m.credit if m.credit < 0 else 0
    if in_use > m.ec_granted:
        in_use = m.ec_granted
    out = {
        "time": now,
        "meter_number": m.meter_number,
        "unit": m.settings["unit"],
        "scale": m.settings["scale"],
        "credit": m.credit,
        "debt": m.debt,
        "emergency_credit": {
            "granted": m.ec_granted,
            "in_use": in_use,
            "offered": policy.ec_offered(m),
            "limit": cfg.ec_limit,
        },
        "zone": policy.ZONE_NAMES[policy.zone(m)],
        "relay": reason < policy.OPEN,
        "relay_reason": policy.REASON_NAMES.get(reason, str(reason)),
        "friendly": policy.in_friendly(cfg, now),
        "energy_wh": m.energy_wh,
        "pulses": m.lifetime_pulses(),
        "month_pulses": m.month_pulses,
        "tariff": cfg.tariff_kind,
        "price": m.price,
        "days_remaining": m.days_remaining(),
        "power_w": m.power_w,
        "power_limit_w": cfg.power_limit,
        "power_trips": m.power_trips,
        "power_retry_at": m.power_retry_at,
        "tamper": {"open": m.tamper_open, "latched": m.tamper_latched},
        "lockout": {
            "failures": m.fail_count,
            "until": m.lock_until,
            "seconds_left": lockout_remaining(m.lock_until, now),  # capped after a clock set back
        },
        "key_revision": m.key_revision,
        "key_parts_stored": 4 - m.key_parts.count(None),
        "config_counter": cfg.counter,
        "tid_high_water": m.tid_high_water,
        "last_test": m.last_test,
        "event_seq": m.events.next_seq - 1,
    }
    if m.sts is not None:
        out["format"] = "sts"
        out["sts"] = m.sts.report()  # no key material
    return out
