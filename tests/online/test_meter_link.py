"""The simulated meter on a real Mosquitto: state, commands, events with the upload cursor.

The head-end is played by a paho-mqtt probe with the head-end's login, so these tests pin the
meter's side of the topic contract (docs/interfaces.md, Online meters) on their own.
"""

import json
import time

import pytest

from host_tools.device.client import DeviceClient
from host_tools.sim import SimMeter
from tests.online.mqtt_helpers import Probe
from tests.sim.interpreters import INTERPRETERS, interpreter_path
from tests.sim.sim_scenario_helpers import METER, power_cut, provision, token
from tests.support.mosquitto import ScratchBroker

PASSWORD = "meter-secret-1"


@pytest.fixture(scope="module")
def broker():
    with ScratchBroker(meters={METER: PASSWORD}) as b:
        yield b


@pytest.fixture
def headend(broker):
    probe = Probe(broker, broker.headend_user, broker.headend_password, client_id="test-head")
    assert probe.connect_code == 0
    probe.subscribe(f"prepay/v1/{METER}/#")
    yield probe
    probe.close()


@pytest.fixture
def online_meter(tmp_path, broker):
    with SimMeter(tmp_path / "state", speed=0) as sim, DeviceClient(sim.port, timeout=10) as m:
        provision(m)
        m.request("net.set", network={"broker": broker.url, "password": PASSWORD})
        yield m


def wait_for(probe, leaf, pred=lambda p: True, timeout=5.0):
    """The first payload on prepay/v1/METER/<leaf> that satisfies `pred`."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        for t, payload, _ in probe.collect(0.1):
            if t == f"prepay/v1/{METER}/{leaf}":
                doc = json.loads(payload)
                if pred(doc):
                    return doc
    raise AssertionError(f"nothing on {leaf} within {timeout} s")


def cmd(probe, doc):
    probe.publish(f"prepay/v1/{METER}/cmd", json.dumps(doc).encode())


def test_state_is_published_and_secrets_stay_hidden(online_meter, headend):
    state = wait_for(headend, "state", lambda d: d.get("online"))
    assert state["credit"] == 0 and state["relay"] == "open" and state["firmware"]
    status = online_meter.request("status")
    assert status["network"]["connected"] is True
    assert PASSWORD not in json.dumps(status)


def test_a_token_by_mqtt_is_applied_once_like_the_keypad(online_meter, headend):
    digits = token(500, 1)
    cmd(headend, {"id": "d1", "token": digits})
    result = wait_for(headend, "result", lambda d: d.get("id") == "d1")
    assert result["result"] == "accepted" and result["credit"] == 500
    cmd(headend, {"id": "d2", "token": digits})  # delivered twice: applied once
    again = wait_for(headend, "result", lambda d: d.get("id") == "d2")
    assert again["result"] == "used" and again["credit"] == 500
    assert online_meter.request("status")["credit"] == 500


def test_events_flow_until_acked_and_survive_outage_and_power_cut(online_meter, headend):
    first = wait_for(headend, "events")
    seqs = {first["seq"]}
    seqs |= {e["seq"] for e in _events(headend, 1.0)}
    top = max(seqs)
    assert sorted(seqs) == list(range(min(seqs), top + 1))
    # Not acknowledged: sent again after the resend delay.
    again = wait_for(headend, "events", lambda d: d["seq"] == top, timeout=15)
    assert again["seq"] == top
    cmd(headend, {"ack": top})
    end = time.monotonic() + 5
    while online_meter.request("status")["network"]["cursor"] != top:
        assert time.monotonic() < end, "the ack did not move the cursor"
        time.sleep(0.05)
    # Cut the network, make events, bring it back: they arrive, in order, after the acked ones.
    online_meter.request("sim.net", up=False)
    wait_for(headend, "state", lambda d: d.get("online") is False)
    for _ in range(3):
        online_meter.request("sim.tamper", open=True)
        online_meter.request("sim.tamper", open=False)
    online_meter.request("keypad", keys=token(100, 2) + "#")  # commits the tamper events
    power_cut(online_meter)
    online_meter.request("sim.net", up=True)
    got = [e["seq"] for e in _events(headend, 4.0)]
    assert got and got[0] == top + 1
    assert got == list(range(top + 1, top + 1 + len(got)))
    assert online_meter.request("status")["network"]["cursor"] == top


def test_events_lost_to_a_long_outage_go_as_one_gap_then_the_rest(online_meter, headend):
    # 300 events while offline: the ring keeps the newest 256, so the oldest unsent ones are
    # gone. The meter says so before the rest ({"gap": [first, last]}) and takes the ack of
    # the newest as usual; the cursor is then kept in the journal (a power cut keeps it).
    m = online_meter
    top = max(e["seq"] for e in m.all_events())
    wait_for(headend, "events", lambda d: d.get("seq") == top)
    cmd(headend, {"ack": top})
    _wait_cursor(m, top)
    m.request("sim.net", up=False)
    wait_for(headend, "state", lambda d: d.get("online") is False)
    digits = token(100, 50)
    for _ in range(100):  # a token event per entry: accepted once, then "used"
        m.request("keypad", keys=(digits + "#") * 3)
    m.request("sim.tamper", open=True)  # urgent: commits the "used" events with it
    held = [e["seq"] for e in m.all_events()]
    assert len(held) == 256 and held[0] > top + 1  # the ring overflowed
    m.request("sim.net", up=True)
    got = []
    end = time.monotonic() + 15
    while not got or got[-1].get("seq") != held[-1]:
        assert time.monotonic() < end, got[-3:]
        got += _events(headend, 0.2)
    assert got[0] == {"gap": [top + 1, held[0] - 1], "time": got[1]["time"]}
    assert [e["seq"] for e in got[1:]] == held  # each once, in order
    cmd(headend, {"ack": held[-1]})
    _wait_cursor(m, held[-1])
    power_cut(m)
    assert m.request("status")["network"]["cursor"] == held[-1]


def test_a_cursor_kept_in_a_net_cursor_file_moves_into_the_journal(tmp_path, broker, headend):
    # A meter updated from firmware that kept the cursor in `net_cursor`: it starts from the
    # file's cursor, keeps it in the journal and drops the file.
    state = tmp_path / "state"
    with SimMeter(state, speed=0) as sim, DeviceClient(sim.port, timeout=10) as m:
        provision(m)
        for _ in range(3):
            m.request("sim.tamper", open=True)
            m.request("sim.tamper", open=False)
        m.request("keypad", keys=token(100, 60) + "#")  # a commit: the tamper events are durable
        (state / "net_cursor").write_text("4")
        m.request("net.set", network={"broker": broker.url, "password": PASSWORD})
        first = wait_for(headend, "events")
        assert first["seq"] == 5
        assert m.request("status")["network"]["cursor"] == 4
        assert not (state / "net_cursor").exists()
        power_cut(m)
        assert m.request("status")["network"]["cursor"] == 4  # from the journal now


def _wait_cursor(meter, seq):
    end = time.monotonic() + 5
    while meter.request("status")["network"]["cursor"] != seq:
        assert time.monotonic() < end, "the ack did not move the cursor"
        time.sleep(0.05)


def _events(probe, seconds):
    return [
        json.loads(p) for t, p, _ in probe.collect(seconds) if t == f"prepay/v1/{METER}/events"
    ]


@pytest.mark.parametrize("interpreter", INTERPRETERS)
def test_a_networked_meter_runs_in_the_bounded_heap(tmp_path, broker, headend, interpreter):
    """The heap test's bound (tests/sim/test_sim_heap_cli.py) with the MQTT link running, on
    both interpreters: compiled firmware and umqtt on PyPI's, both frozen on the 32-bit one
    (its path is .frozen alone); a token by MQTT, events acked."""
    from tests.sim.test_sim_heap_cli import HEAP

    with (
        SimMeter(
            tmp_path / "state",
            speed=0,
            heap=HEAP[interpreter],
            micropython=interpreter_path(interpreter),
        ) as sim,
        DeviceClient(sim.port, timeout=10) as m,
    ):
        assert sim.info["frozen"] == (interpreter == "unix32")
        provision(m)
        m.request("net.set", network={"broker": broker.url, "password": PASSWORD})
        wait_for(headend, "state", lambda d: d.get("online"))
        for i in range(10):
            cmd(headend, {"id": f"h{i}", "token": token(100, 10 + i)})
            got = wait_for(headend, "result", lambda d, i=i: d.get("id") == f"h{i}")
            assert got["result"] == "accepted"
        top = max(e["seq"] for e in m.all_events())
        cmd(headend, {"ack": top})
        end = time.monotonic() + 5
        while m.request("status")["network"]["cursor"] != top:
            assert time.monotonic() < end
            time.sleep(0.05)
        assert m.request("status")["credit"] == 1000


def test_a_broker_that_stops_answering_does_not_stall_the_meter(online_meter, broker, headend):
    import signal

    wait_for(headend, "state", lambda d: d.get("online"))
    broker.proc.send_signal(signal.SIGSTOP)  # connection open, nobody answering
    try:
        # a change makes the link publish its state (QoS 1: it waits for a PUBACK)
        online_meter.request("keypad", keys=token(300, 40) + "#")
        worst = 0.0
        end = time.monotonic() + 6
        while time.monotonic() < end:
            start = time.monotonic()
            online_meter.request("status")
            worst = max(worst, time.monotonic() - start)
            time.sleep(0.1)
        # the serial protocol stays answered (each request within the client's 10 s; the 2 s
        # socket timeout bounds any wait: figure printed, not asserted) ...
        print(f"slowest status answer while the broker was silent: {worst:.2f} s")
        # ... and the link gave up on the silent broker
        assert online_meter.request("status")["network"]["last_error"] is not None
    finally:
        broker.proc.send_signal(signal.SIGCONT)
    end = time.monotonic() + 15
    while not online_meter.request("status")["network"]["connected"]:
        assert time.monotonic() < end, "the link did not come back"
        time.sleep(0.1)
