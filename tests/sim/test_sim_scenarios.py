"""Scenario tests over the real pseudo-terminal against the real firmware under micropython."""

from tests.sim.sim_scenario_helpers import KEY, START, power_cut, provision, token

REGISTERS = ("credit", "energy_wh", "pulses", "debt", "tid_high_water", "zone", "relay")


def _kinds(client):
    return [e["event"] for e in client.all_events()]


def test_provision_topup_consume_disconnect_reconnect(meter):
    assert meter.hello["provisioned"] is False
    provision(meter, low_credit=200)
    assert meter.request("hello")["provisioned"] is True
    assert meter.request("status")["relay"] == "open"
    assert meter.request("token", token=token(500))["result"] == "accepted"  # 5.00 = 5 kWh
    assert meter.request("status")["relay"] == "closed"
    meter.request("sim.load", watts=1000)
    meter.request("sim.advance", seconds=3 * 3600 + 60)  # below 2.00: low credit
    st = meter.request("status")
    assert st["zone"] == "low" and st["relay"] == "closed"
    meter.wait_event("zone", b=1)  # policy.LOW
    meter.request("sim.advance", seconds=3 * 3600)
    st = meter.request("status")
    assert st["relay"] == "open" and st["credit"] <= 0 and st["relay_reason"] == "no_credit"
    meter.wait_event("relay", a=0)
    assert st["energy_wh"] <= 5000 + 17  # at most one 60 s step at 1 kW after zero
    used = st["energy_wh"]
    meter.request("sim.advance", seconds=3600)
    assert meter.request("status")["energy_wh"] == used  # no current through an open relay
    assert meter.request("token", token=token(1000, 1))["result"] == "accepted"
    st = meter.request("status")
    assert st["relay"] == "closed" and st["zone"] == "normal"
    meter.wait_event("relay", a=1)
    assert {"boot", "token", "zone", "relay"} <= set(_kinds(meter))


def test_friendly_hours_keep_the_relay_closed_at_zero_credit(meter):
    every_day = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    friendly = {"windows": [{"days": every_day, "start": "00:00", "end": "24:00"}]}
    provision(meter, friendly=friendly, friendly_floor=300)
    meter.request("token", token=token(100))  # 1 kWh
    meter.request("sim.load", watts=1000)
    meter.request("sim.advance", seconds=3 * 3600)
    st = meter.request("status")
    assert st["friendly"] is True and st["relay"] == "closed"
    assert st["relay_reason"] == "friendly" and st["credit"] == -200
    meter.request("sim.advance", seconds=3 * 3600)  # the friendly floor (-3.00) opens it
    st = meter.request("status")
    assert st["relay"] == "open" and st["relay_reason"] == "friendly_floor"
    assert -300 - 2 <= st["credit"] <= -300


def test_power_cut_resumes_the_exact_registers_on_the_same_port(sim, meter):
    provision(meter)
    meter.request("token", token=token(2000))
    meter.request("sim.load", watts=3000)
    meter.request("sim.advance", seconds=1800)
    meter.request("token", token=token(100, 1))  # a token result is durable before it is shown
    before = meter.request("status")
    # Same serial handle, no reopen: the boot event of the restarted firmware arrives.
    assert power_cut(meter)["seq"] == before["event_seq"] + 1  # all events were durable
    after = meter.request("status")
    for key in REGISTERS:
        assert after[key] == before[key], key
    assert after["time"] == before["time"]  # the virtual clock survives the cut
    # Consumption since the last save is lost in the customer's favour, never more than 50 Wh.
    meter.request("sim.advance", seconds=40)  # 3 kW x 40 s = 33 Wh: below the save threshold
    mid = meter.request("status")
    power_cut(meter)
    again = meter.request("status")
    assert mid["energy_wh"] - 50 <= again["energy_wh"] <= mid["energy_wh"]
    assert again["credit"] >= mid["credit"]
    assert sim.port == meter.port


def test_lockout_survives_a_power_cut(meter):
    provision(meter)
    wrong = [
        meter.request("token", token=token(100, i, key=bytes(16)))["result"] for i in range(5)
    ]
    assert wrong[:2] == ["reject", "reject"] and wrong[-1] == "locked"
    st = meter.request("status")
    locked = st["lockout"]
    assert locked["seconds_left"] > 0
    power_cut(meter)
    after = meter.request("status")["lockout"]
    assert after["failures"] == locked["failures"] and after["until"] == locked["until"]
    assert meter.request("token", token=token(100, 9))["result"] == "locked"
    meter.request("sim.advance", seconds=after["seconds_left"])
    assert meter.request("token", token=token(100, 9))["result"] == "accepted"
    assert KEY.hex() not in str(meter.request("config.get"))


def test_tamper_and_display_over_serial(meter):
    provision(meter, tamper_disconnect=True)
    meter.request("token", token=token(500))
    meter.request("sim.tamper", open=True)
    st = meter.request("status")
    assert st["tamper"] == {"open": True, "latched": True} and st["relay"] == "open"
    assert meter.request("sim.display")["lines"][3] == "SUPPLY OFF"
    meter.wait_event("tamper", a=1)
    assert START <= st["time"]


def test_speed_factor_runs_the_virtual_clock(tmp_path):
    import time

    from host_tools.device.client import DeviceClient
    from host_tools.sim import SimMeter

    with SimMeter(tmp_path, speed=3600) as sim, DeviceClient(sim.port) as client:
        first = client.request("hello")["time"]
        time.sleep(1.0)
        assert client.request("hello")["time"] - first >= 3000  # about an hour per second


def test_power_limit_trip_retry_and_bench_pulses(meter):
    provision(meter, power={"limit_w": 2000, "window_s": 60, "trip_s": 60, "retry_s": 300})
    meter.request("token", token=token(5000))
    meter.request("sim.load", watts=3000)
    meter.request("sim.advance", seconds=240)
    st = meter.request("status")
    assert st["relay"] == "open" and st["relay_reason"] == "power_limit" and st["power_trips"] == 1
    meter.wait_event("power_trip", a=1, b=3000)
    meter.request("sim.load", watts=500)
    meter.request("sim.advance", seconds=400)
    assert meter.request("status")["relay"] == "closed"
    meter.wait_event("power_restore")
    before = meter.request("status")["pulses"]
    meter.request("sim.load", watts=0)
    assert meter.request("bench.pulses", count=1234) == {"queued": 1234}
    assert meter.request("status")["pulses"] == before + 1234
