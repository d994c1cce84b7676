"""Zone transitions, emergency credit, friendly periods, never-disconnect, standing charge."""

from core_fixtures import FRIENDLY_TEST_CONFIG, HOUR, MONDAY, kinds, meter, token

from firmware.core import events as ev
from firmware.core import policy
from firmware.core.calendar import DAY

# price 1000 per kWh at 1000 pulses/kWh: one register unit per pulse, easy to follow.
FLAT = {"type": "flat", "price": 1000}
EC = {"limit": 50, "offer_below": 20}


def zone_names(m, after=0):
    return [policy.ZONE_NAMES[e[4]] for e in kinds(m, ev.ZONE, after)]


def test_normal_low_zero_emergency_disconnected_and_back():
    m = meter(credit=100, tariff=FLAT, config={"low_credit": 30, "emergency": EC})
    t = MONDAY + 60
    m.tick(t)
    assert m.status(t)["zone"] == "normal" and m.relay_closed(t)
    m.add_pulses(70, t)
    m.tick(t)
    assert m.status(t)["zone"] == "low" and m.relay_closed(t)
    m.add_pulses(30, t + 1)
    m.tick(t + 1)
    assert m.credit == 0
    assert m.status(t + 1)["zone"] == "zero"
    assert not m.relay_closed(t + 1)
    assert m.status(t + 1)["emergency_credit"]["offered"]
    assert m.activate_emergency_credit(t + 2)
    assert m.status(t + 2)["zone"] == "emergency" and m.relay_closed(t + 2)
    m.add_pulses(49, t + 3)
    m.tick(t + 3)
    assert m.relay_closed(t + 3) and m.status(t + 3)["emergency_credit"]["in_use"] == 49
    m.add_pulses(1, t + 4)
    m.tick(t + 4)
    assert m.status(t + 4)["zone"] == "disconnected"
    assert not m.relay_closed(t + 4)
    assert m.status(t + 4)["relay_reason"] == "no_credit"
    assert m.enter_token(token(0, 200, t + 5), t + 5) == "accepted"
    m.tick(t + 5)
    assert m.credit == 150  # 50 of emergency credit repaid first
    assert m.status(t + 5)["zone"] == "normal"
    # Provisioned at zero credit, the first token moved the meter to normal.
    assert zone_names(m) == ["normal", "low", "zero", "emergency", "disconnected", "normal"]
    relays = [(e[3], e[4]) for e in kinds(m, ev.RELAY)]
    assert relays == [
        (1, policy.CREDIT),
        (0, policy.NO_CREDIT),
        (1, policy.EMERGENCY_CREDIT),
        (0, policy.NO_CREDIT),
        (1, policy.CREDIT),
    ]
    assert [e[3] for e in kinds(m, ev.EMERGENCY)] == [1, 0]


def test_low_credit_by_days_remaining_from_seven_day_history():
    m = meter(credit=10000, tariff=FLAT, config={"low_days": 3})
    t = MONDAY
    for day in range(7):
        m.add_pulses(0, t + day * DAY + 1)
        m.add_pulses(1000, t + day * DAY + 12 * HOUR)  # 1000 units per day
    m.add_pulses(0, t + 7 * DAY + 1)
    m.tick(t + 7 * DAY + 1)
    assert m.credit == 3000
    assert m.days_remaining() == 3
    assert m.status(t + 7 * DAY + 1)["zone"] == "low"
    m.top_up(1000, t + 7 * DAY + 2)
    m.tick(t + 7 * DAY + 2)
    assert m.days_remaining() == 4
    assert m.status(t + 7 * DAY + 2)["zone"] == "normal"


def test_days_remaining_unknown_without_history():
    m = meter(credit=100, tariff=FLAT, config={"low_days": 3})
    m.add_pulses(50, MONDAY + 60)
    assert m.days_remaining() is None
    m.tick(MONDAY + 60)
    assert m.status(MONDAY + 60)["zone"] == "normal"


def test_emergency_credit_must_be_repaid_before_reuse():
    m = meter(credit=10, tariff=FLAT, config={"emergency": EC})
    t = MONDAY + 60
    assert m.activate_emergency_credit(t)
    assert not m.activate_emergency_credit(t)  # already in use
    m.add_pulses(40, t + 1)
    m.tick(t + 1)
    assert m.credit == -30
    # A partial top-up repays only part: still in emergency, not offered again.
    assert m.enter_token(token(0, 20, t + 2), t + 2) == "accepted"
    assert m.credit == -10 and m.ec_granted == 50
    assert not m.activate_emergency_credit(t + 3)
    assert m.enter_token(token(0, 25, t + 4), t + 4) == "accepted"
    assert m.credit == 15 and m.ec_granted == 0
    assert m.activate_emergency_credit(t + 5)  # repaid in full: offered again
    refused = [e for e in kinds(m, ev.EMERGENCY) if e[3] == -1]
    assert len(refused) == 2


def test_emergency_credit_not_offered_above_threshold_or_unconfigured():
    m = meter(credit=100, tariff=FLAT, config={"emergency": EC})
    assert not m.activate_emergency_credit(MONDAY + 1)
    plain = meter(credit=1, tariff=FLAT)
    plain.add_pulses(5, MONDAY + 5)
    plain.tick(MONDAY + 5)
    assert not plain.activate_emergency_credit(MONDAY + 5)
    assert plain.status(MONDAY + 5)["zone"] == "disconnected"


# The friendly calendar of the shared fixture (weekday evenings, weekends, a holiday, a floor),
# without its emergency-credit and low-credit settings.
FRIENDLY = {k: FRIENDLY_TEST_CONFIG[k] for k in ("friendly", "holidays", "friendly_floor")}


def test_friendly_window_edges():
    m = meter(tariff=FLAT, config=FRIENDLY)
    cfg = m.config
    assert not policy.in_friendly(cfg, MONDAY + 18 * HOUR - 1)  # Mon 17:59:59
    assert policy.in_friendly(cfg, MONDAY + 18 * HOUR)  # Mon 18:00
    assert policy.in_friendly(cfg, MONDAY + DAY + 8 * HOUR - 1)  # Tue 07:59:59
    assert not policy.in_friendly(cfg, MONDAY + DAY + 8 * HOUR)  # Tue 08:00
    assert not policy.in_friendly(cfg, MONDAY + 8 * HOUR - 1)  # Mon 07:59 (Sunday not in mask)
    assert policy.in_friendly(cfg, MONDAY - 1)  # Sun 23:59:59 (weekend window)
    assert policy.in_friendly(cfg, MONDAY + 5 * DAY + 12 * HOUR)  # Saturday noon
    assert policy.in_friendly(cfg, MONDAY + 4 * DAY + 23 * HOUR)  # Fri 23:00


def test_holidays_and_next_morning():
    m = meter(tariff=FLAT, config=FRIENDLY)
    cfg = m.config
    wednesday = MONDAY + 2 * DAY  # 2026-03-04, a listed holiday
    assert not policy.in_friendly(cfg, wednesday - DAY + 12 * HOUR)  # Tuesday noon
    assert policy.in_friendly(cfg, wednesday + 12 * HOUR)
    assert policy.in_friendly(cfg, wednesday + DAY + 9 * HOUR - 1)  # Thu 08:59:59
    assert not policy.in_friendly(cfg, wednesday + DAY + 9 * HOUR)  # Thu 09:00


def test_friendly_period_keeps_relay_closed_down_to_floor_then_debt_repaid():
    m = meter(credit=10, tariff=FLAT, config=dict(FRIENDLY, debt={"percent": 50}))
    evening = MONDAY + 18 * HOUR
    m.add_pulses(0, evening)
    m.add_pulses(60, evening + 60)
    m.tick(evening + 60)
    assert m.credit == -50
    assert m.relay_closed(evening + 60)
    assert m.status(evening + 60)["relay_reason"] == "friendly"
    m.add_pulses(50, evening + 120)
    m.tick(evening + 120)
    assert m.credit == -100
    assert not m.relay_closed(evening + 120)
    assert m.status(evening + 120)["relay_reason"] == "friendly_floor"
    # Morning: friendly period over, credit negative: open for no credit.
    morning = MONDAY + DAY + 8 * HOUR
    m.tick(morning)
    assert m.status(morning)["relay_reason"] == "no_credit"
    # Negative credit is repaid before debt recovery sees the top-up.
    m.debt = 1000
    assert m.enter_token(token(0, 300, morning), morning) == "accepted"
    assert m.credit == 100 and m.debt == 900
    m.tick(morning + 1)
    assert m.relay_closed(morning + 1)


def test_never_disconnect_keeps_relay_but_alarms_fire():
    m = meter(credit=5, tariff=FLAT, config={"never_disconnect": True, "low_credit": 3})
    t = MONDAY + 12 * HOUR
    m.add_pulses(0, t)
    m.add_pulses(500, t + 60)
    m.tick(t + 60)
    assert m.credit == -495
    assert m.relay_closed(t + 60)
    assert m.status(t + 60)["relay_reason"] == "never_disconnect"
    assert zone_names(m)[-1] == "disconnected"


def test_debt_recovery_percentage_and_cap():
    m = meter(credit=0, tariff=FLAT, config={"debt": {"percent": 20, "cap": 30}})
    t = MONDAY + 60
    assert m.enter_token(token(6, 100, t), t) == "accepted"  # add debt 100
    assert m.enter_token(token(0, 100, t), t) == "accepted"
    assert (m.credit, m.debt) == (80, 80)  # 20 % of 100
    assert m.enter_token(token(0, 1000, t), t) == "accepted"
    assert (m.credit, m.debt) == (1050, 50)  # 20 % = 200, capped at 30
    assert m.enter_token(token(7, 100, t), t) == "accepted"  # recover 100 %
    assert m.enter_token(token(0, 80, t), t) == "accepted"
    assert (m.credit, m.debt) == (1100, 20)  # capped at 30 per top-up
    assert [e[4] for e in kinds(m, ev.DEBT)] == [20, 30, 30]


def test_standing_charge_accrues_exactly_per_second():
    m = meter(credit=1000, tariff=FLAT, config={"standing_charge": 100})
    t = MONDAY
    for step in (1, 863, 864, 3600, 86400 - 863 - 864 - 3600 - 1):
        t += step
        m.tick(t)
    assert t == MONDAY + DAY
    assert m.credit == 900
    m.tick(t + 432)  # 100 * 432 / 86400 = 0.5: not yet a whole unit
    assert m.credit == 900
    m.tick(t + 864)
    assert m.credit == 899


def test_remaining_transitions_by_top_up_and_clear_credit():
    m = meter(credit=5, tariff=FLAT, config={"low_credit": 30, "emergency": EC})
    t = MONDAY + 60
    m.tick(t)
    assert m.status(t)["zone"] == "low"
    m.add_pulses(5, t)
    m.tick(t)
    assert m.status(t)["zone"] == "zero"
    assert m.enter_token(token(0, 20, t), t) == "accepted"  # zero -> low
    m.tick(t)
    assert m.status(t)["zone"] == "low"
    assert m.activate_emergency_credit(t)  # low -> emergency (offered at/below 20)
    m.tick(t)
    assert m.status(t)["zone"] == "emergency" and m.credit == 20
    assert m.enter_token(token(3, 0, t), t) == "accepted"  # clear credit ends the grant
    m.tick(t)
    assert m.status(t)["zone"] == "zero" and m.ec_granted == 0
    plain = meter(credit=1, tariff=FLAT)
    plain.add_pulses(1, t)
    plain.tick(t)
    assert plain.status(t)["zone"] == "disconnected"  # no emergency credit configured
    assert plain.enter_token(token(0, 100, t), t) == "accepted"
    plain.tick(t)
    assert plain.status(t)["zone"] == "normal" and plain.relay_closed(t)
    names = zone_names(m)
    assert names[-4:] == ["zero", "low", "emergency", "zero"]
