"""Pulses, credit and the relay: counting accuracy, low credit, disconnection at zero,
reconnection on top-up, friendly hours, the power limit, tamper and power cuts."""

from hardware_tests.bench import PRICE, PULSES_PER_KWH
from token_spec.types import TYPE_CLEAR_TAMPER

EVERY_DAY = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
ALWAYS_FRIENDLY = {"windows": [{"days": EVERY_DAY, "start": "00:00", "end": "24:00"}]}


def cost(pulses):
    """Register units the meter must have charged for `pulses` (rounded down; the remainder
    is carried inside the meter)."""
    return pulses * PRICE // PULSES_PER_KWH


def test_pulse_counting_is_exact(meter):
    start = meter.start_from_zero()
    assert meter.enter(meter.token(10_000)) == "accepted"  # 100.00: never runs out here
    before = meter.status()
    count = 120
    meter.pulses(count)
    after = meter.status()
    assert after["pulses"] == before["pulses"] + count
    assert after["energy_wh"] - before["energy_wh"] == count * 1000 // PULSES_PER_KWH
    assert before["credit"] - after["credit"] == cost(count)
    assert start["pulses"] <= before["pulses"]


def test_relay_opens_at_zero_and_closes_on_top_up(meter):
    meter.start_from_zero(low_credit=3)
    st = meter.status()
    assert st["relay"] == "open" and st["relay_reason"] == "no_credit"
    assert meter.enter(meter.token(5)) == "accepted"  # 0.05 = 50 pulses at 1.00/kWh
    meter.advance(1)
    st = meter.status()
    assert st["relay"] == "closed" and st["zone"] == "normal"
    meter.pulses(30)  # 3 units spent: 2 left, inside the low-credit band
    st = meter.status()
    assert st["credit"] == 2 and st["zone"] == "low" and st["relay"] == "closed"
    meter.pulses(25)  # past zero
    meter.advance(1)
    st = meter.status()
    assert st["credit"] <= 0 and st["relay"] == "open" and st["relay_reason"] == "no_credit"
    assert meter.enter(meter.token(500)) == "accepted"
    meter.advance(1)
    st = meter.status()
    assert st["relay"] == "closed" and st["zone"] == "normal" and st["credit"] > 0


def test_friendly_hours_keep_the_supply_on_at_zero(meter):
    meter.start_from_zero(friendly=ALWAYS_FRIENDLY, friendly_floor=300)
    st = meter.status()
    assert st["friendly"] is True
    assert st["relay"] == "closed" and st["relay_reason"] == "friendly" and st["credit"] == 0
    meter.pulses(40)  # credit goes negative: debt, taken from the next top-up
    st = meter.status()
    assert st["credit"] == -cost(40) and st["relay"] == "closed"
    meter.configure()  # friendly hours withdrawn: the negative credit now disconnects
    st = meter.status()
    assert st["relay"] == "open" and st["relay_reason"] == "no_credit"


def test_power_limit_trips_and_retries(meter):
    power = {"limit_w": 2000, "window_s": 10, "trip_s": 10, "retry_s": 30, "backoff_max": 0}
    meter.start_from_zero(power=power)
    assert meter.enter(meter.token(10_000)) == "accepted"
    trips = meter.status()["power_trips"]
    meter.load(6000, 40)
    st = meter.status()
    assert st["relay"] == "open" and st["relay_reason"] == "power_limit"
    assert st["power_trips"] == trips + 1
    assert meter.meter.wait_event("power_trip", timeout=5)["a"] == trips + 1
    meter.advance(40)  # load gone: the retry reconnects
    st = meter.status()
    assert st["relay"] == "closed"
    meter.meter.wait_event("power_restore", timeout=5)


def test_tamper_disconnects_until_a_clear_tamper_token(meter):
    meter.require("tamper")
    meter.start_from_zero(tamper_disconnect=True)
    assert meter.enter(meter.token(500)) == "accepted"
    meter.set_tamper(True)
    st = meter.status()
    assert st["tamper"]["latched"] is True and st["relay"] == "open"
    assert meter.meter.wait_event("tamper", timeout=5)["a"] == 1
    meter.set_tamper(False)  # closing the cover is not enough
    assert meter.status()["relay"] == "open"
    assert meter.enter(meter.token(0, TYPE_CLEAR_TAMPER)) == "accepted"
    meter.advance(1)
    st = meter.status()
    assert st["tamper"]["latched"] is False and st["relay"] == "closed"


def test_power_cut_keeps_the_registers(meter):
    meter.require("power_cut")
    meter.start_from_zero()
    meter.pulses(20)
    # A token result is saved before it is shown, with every register as it stands.
    assert meter.enter(meter.token(1234)) == "accepted"
    before = meter.status()
    meter.power_cut()
    after = meter.status()
    for key in ("credit", "pulses", "energy_wh", "tid_high_water", "relay", "zone"):
        assert after[key] == before[key], key
    assert meter.enter(meter.token(1)) == "accepted"
