"""Customer messages from real meter events: the head-end (real Mosquitto, real paho client)
stores a meter's journal events and, in the same transaction, queues the outbox row of those
that concern the customer (host_tools/headend/announce.py, docs/notify.md).

The meter here is a probe publishing on the meter's own topics with the meter's own broker
account, so each test can send exactly the event it needs (and resend it, as a meter does
when an ack is lost) without driving a simulated load down to a zone change.
"""

import json
import time

import pytest
from sqlalchemy import select

from firmware.core import policy
from host_tools.headend import announce
from host_tools.headend.service import ROOT
from host_tools.vending import db, keystore
from tests.online.mqtt_helpers import Probe, running_headend
from tests.support.mosquitto import ScratchBroker
from tests.vending.vending_setup import CURRENCY_METER, KWH_METER, make_station

PASSWORDS = {KWH_METER: "kwh-meter-pw", CURRENCY_METER: "currency-meter-pw"}


@pytest.fixture
def headend(tmp_path, monkeypatch):
    monkeypatch.setattr(keystore, "SCRYPT_N", 2**10)
    monkeypatch.setenv("PREPAY_PASSPHRASE", "correct horse battery staple")
    monkeypatch.delenv("PREPAY_VEND_CRASH_AT", raising=False)
    home = tmp_path / "home"
    station = make_station(home)
    with ScratchBroker(meters=PASSWORDS) as broker, running_headend(home, broker):
        meters = {}
        try:
            yield station, broker, meters
        finally:
            for probe in meters.values():
                probe.close()
    station.close()


def _meter(broker, meters, number):
    """The probe speaking as `number` (its own broker account), subscribed to its cmd topic."""
    if number not in meters:
        probe = Probe(broker, number, PASSWORDS[number], client_id="meter-" + number)
        assert probe.connect_code == 0
        probe.subscribe(ROOT + number + "/cmd")
        meters[number] = probe
    return meters[number]


def _send(probe, number, leaf, doc):
    probe.publish(ROOT + number + "/" + leaf, json.dumps(doc))


def _wait_acked(station, number, seq, timeout=10):
    links = db.meter_links
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        acked = station.read(
            lambda c: c.execute(select(links.c.acked_seq).where(links.c.meter == number)).scalar()
        )
        if acked == seq:
            return
        time.sleep(0.05)
    raise AssertionError(f"meter {number}: events up to {seq} not stored within {timeout} s")


def _outbox(station, number):
    o = db.notify_outbox
    return station.read(
        lambda c: c.execute(
            select(o.c.kind, o.c.dedupe_key, o.c.data).where(o.c.meter == number).order_by(o.c.id)
        ).all()
    )


def _ev(seq, kind, a, b):
    return {"seq": seq, "time": 200_000_000 + seq, "event": kind, "a": a, "b": b}


def test_a_stored_low_credit_event_queues_one_message_whatever_the_resends(headend):
    station, broker, meters = headend
    probe = _meter(broker, meters, KWH_METER)
    _send(probe, KWH_METER, "state", {"online": True, "credit": 1234, "time": 200_000_000})
    low = _ev(1, "zone", announce.ZONE_NORMAL, announce.ZONE_LOW)
    _send(probe, KWH_METER, "events", low)
    _wait_acked(station, KWH_METER, 1)
    _send(probe, KWH_METER, "events", low)  # the ack was lost: the meter sends it again
    _send(probe, KWH_METER, "events", _ev(2, "token", 0, 500))  # nothing for the customer
    _wait_acked(station, KWH_METER, 2)
    rows = _outbox(station, KWH_METER)
    assert [(r.kind, r.dedupe_key) for r in rows] == [("credit_low", f"event:{KWH_METER}:1")]
    assert json.loads(rows[0].data)["credit"] == 1234  # from the meter's last state


def test_the_low_credit_message_carries_the_use_of_the_meters_readings(headend):
    station, broker, meters = headend
    probe = _meter(broker, meters, KWH_METER)
    day = 86_400
    for time_s, energy in ((200_000_000 - 15 * day, 0), (200_000_000 - day, 1_000),
                           (200_000_000, 6_000)):  # fmt: skip
        state = {"online": True, "credit": 1234, "time": time_s, "energy_wh": energy}
        _send(probe, KWH_METER, "state", state)
    _send(probe, KWH_METER, "events", _ev(1, "zone", announce.ZONE_NORMAL, announce.ZONE_LOW))
    _wait_acked(station, KWH_METER, 1)
    (row,) = _outbox(station, KWH_METER)
    # The first state is older than 14 days: 5,000 Wh (1 Wh units) over the last 1 day.
    assert json.loads(row.data) == {"credit": 1234, "used_14d": 5_000, "used_seconds": day}


def test_a_cut_for_credit_and_its_restore_are_announced_a_test_opening_is_not(headend):
    station, broker, meters = headend
    probe = _meter(broker, meters, KWH_METER)
    no_credit, test_reason = announce.CUT_REASONS[0], 20
    events = [
        _ev(1, "relay", 0, test_reason),  # a relay test token: not a cut for credit
        _ev(2, "relay", 1, 0),  # ... and its end is no restore
        _ev(3, "relay", 0, no_credit),
        _ev(4, "relay", 1, 0),
    ]
    for e in events:
        _send(probe, KWH_METER, "events", e)
    _wait_acked(station, KWH_METER, 4)
    assert [(r.kind, r.dedupe_key) for r in _outbox(station, KWH_METER)] == [
        ("supply_cut", f"event:{KWH_METER}:3"),
        ("supply_restored", f"event:{KWH_METER}:4"),
    ]


def test_events_stored_out_of_order_are_announced_in_seq_order(headend):
    # What a killed head-end leaves (tests/online/test_fault_kill.py found it): the events it
    # had taken from the broker died with it, so the next one gets the later ones first.
    station, broker, meters = headend
    probe = _meter(broker, meters, KWH_METER)
    no_credit = announce.CUT_REASONS[0]
    _send(probe, KWH_METER, "events", _ev(1, "tamper", 1, 0))
    _wait_acked(station, KWH_METER, 1)
    _send(probe, KWH_METER, "events", _ev(5, "relay", 1, 0))  # closed after the test below
    _send(probe, KWH_METER, "events", _ev(3, "relay", 1, 0))  # the restore after the cut
    _send(probe, KWH_METER, "events", _ev(4, "relay", 0, 20))  # a relay test opening
    _wait_acked(station, KWH_METER, 1)
    assert _outbox(station, KWH_METER) == []  # nothing announced past the gap
    _send(probe, KWH_METER, "events", _ev(2, "relay", 0, no_credit))  # the resend fills it
    _wait_acked(station, KWH_METER, 5)
    assert [(r.kind, r.dedupe_key) for r in _outbox(station, KWH_METER)] == [
        ("supply_cut", f"event:{KWH_METER}:2"),
        ("supply_restored", f"event:{KWH_METER}:3"),
    ]


def test_a_critical_customers_cut_is_stored_but_not_announced(headend):
    station, broker, meters = headend
    probe = _meter(broker, meters, CURRENCY_METER)  # registered critical (vending_setup)
    _send(probe, CURRENCY_METER, "events", _ev(1, "relay", 0, announce.CUT_REASONS[0]))
    _send(probe, CURRENCY_METER, "events", _ev(2, "emergency", 1, 500))
    _wait_acked(station, CURRENCY_METER, 2)
    assert [r.kind for r in _outbox(station, CURRENCY_METER)] == ["emergency_credit"]
    assert json.loads(_outbox(station, CURRENCY_METER)[0].data)["granted"] == 500


def test_the_head_ends_event_codes_are_the_meters():
    assert (announce.ZONE_NORMAL, announce.ZONE_LOW) == (policy.NORMAL, policy.LOW)
    names = {policy.REASON_NAMES[code] for code in announce.CUT_REASONS}
    assert names == {"no_credit", "friendly_floor"}
