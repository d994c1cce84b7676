"""The head-end's batches (host_tools/headend/service.py `handle_batch`): many queued messages
in one transaction give the rows one message at a time gives, and the acks go out after the
commit. Driven directly (no worker thread) on a real Mosquitto, a probe listening as the meter.
"""

import json

import pytest
from sqlalchemy import select, update

from host_tools.headend.service import ROOT, Headend
from host_tools.vending import db, keystore, vend
from tests.online.mqtt_helpers import Probe
from tests.support.mosquitto import ScratchBroker
from tests.vending.vending_setup import CURRENCY_METER, KWH_METER, make_station

M = CURRENCY_METER


def _state(time, credit, online=True):
    doc = {"online": online, "time": time, "credit": credit, "energy_wh": 7, "power_w": None}
    return (ROOT + M + "/state", json.dumps(doc | {"relay": "closed", "zone": "normal"}))


def _event(seq):
    doc = {"event": "tamper", "seq": seq, "time": 100 + seq, "a": 1, "b": 0}
    return (ROOT + M + "/events", json.dumps(doc))


@pytest.fixture
def headend(tmp_path, monkeypatch):
    monkeypatch.setattr(keystore, "SCRYPT_N", 2**10)
    monkeypatch.setenv("PREPAY_PASSPHRASE", "correct horse battery staple")
    monkeypatch.delenv("PREPAY_VEND_CRASH_AT", raising=False)
    station = make_station(tmp_path / "home")
    with ScratchBroker(meters={M: "pw"}) as broker:
        he = Headend(station, broker.url, broker.headend_user, broker.headend_password)
        he.start()
        assert he.connected.wait(10)
        meter = Probe(broker, M, "pw", client_id=M)
        meter.subscribe(ROOT + M + "/cmd")
        yield station, he, meter
        meter.close()
        he.close()
    station.close()


def _rows(station, table, order):
    return station.read(lambda c: c.execute(select(table).order_by(*order)).all())


def test_a_batch_stores_what_single_messages_would_and_acks_after_it(headend):
    station, he, meter = headend
    he.handle_batch(
        [
            _state(900 * 10 + 1, 500),
            _event(1),
            (ROOT + M + "/state", b'{"online": true, "time": 9002, "credit": "lots"}'),  # dropped
            _event(2),
            _state(900 * 10 + 5, 480),  # the same quarter hour: the last state wins
            (ROOT + M + "/events", b'{"event": "x", "seq": 3, "time": 1e999}'),  # dropped
            _state(900 * 11, 470),  # the next quarter hour
            (ROOT + KWH_METER + "/result", b"not json"),
        ]
    )
    readings = _rows(station, db.readings, [db.readings.c.slot])
    assert [(r.slot, r.credit, r.power_w) for r in readings] == [(10, 480, 0), (11, 470, 0)]
    events = _rows(station, db.meter_events, [db.meter_events.c.seq])
    assert [e.seq for e in events] == [1, 2]
    link = _rows(station, db.meter_links, [db.meter_links.c.meter])[0]
    assert link.online and link.acked_seq == 2 and json.loads(link.state)["credit"] == 470
    acks = [json.loads(p) for _t, p, _r in meter.collect(1.0)]
    assert acks == [{"ack": 1}, {"ack": 2}]  # published after the batch committed
    assert he.stats["messages"] == 8


def test_a_meter_back_online_within_a_batch_gets_its_token_again(headend):
    station, he, _meter = headend
    he.handle_batch([_state(9000, 500)])
    vend.sell(station, M, "3", "B-1", "cash", "clerk")
    dl = db.deliveries
    station.write(lambda c: c.execute(update(dl).values(status="sent")))
    # offline and back in one batch: whatever was in flight goes again at once
    he.handle_batch([_state(9001, 500, online=False), _state(9002, 500)])
    assert [r.status for r in _rows(station, dl, [dl.c.txn_id])] == ["pending"]
    link = _rows(station, db.meter_links, [db.meter_links.c.meter])[0]
    assert link.online
