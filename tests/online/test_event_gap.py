"""Events a meter lost to an outage longer than its 256-event ring: it announces them as
`{"gap": [first, last]}` on its events topic (firmware/net/link.py; the simulated meter's
side is tests/online/test_meter_link.py), and the head-end stores them as `events_lost` rows,
once, only where it holds nothing, and acks past them (docs/online.md).

The meter is a probe on the meter's own topics and account (as in test_announce.py), so each
test sends exactly the events and gaps it needs, resends included.
"""

import json

from sqlalchemy import select

from host_tools.headend.service import ROOT
from host_tools.vending import db
from tests.online import test_announce
from tests.online.test_announce import _ev, _meter, _outbox, _send, _wait_acked
from tests.vending.vending_setup import CURRENCY_METER

headend = test_announce.headend  # the station, a real Mosquitto and the head-end running


def _rows(station):
    e = db.meter_events
    return station.read(
        lambda c: c.execute(
            select(e.c.seq, e.c.kind, e.c.a, e.c.b)
            .where(e.c.meter == CURRENCY_METER)
            .order_by(e.c.seq)
        ).all()
    )


def test_a_gap_is_stored_once_where_nothing_arrived_and_acked_past(headend):
    station, broker, meters = headend
    probe = _meter(broker, meters, CURRENCY_METER)
    for seq in (1, 2, 6):  # 6 arrived (an earlier send) before the meter lost 3..5 and 7..9
        _send(probe, CURRENCY_METER, "events", _ev(seq, "token", 0, 100))
    _wait_acked(station, CURRENCY_METER, 2)
    for bad in ([5, 3], [0, 4], [3], "3-9", [3, True], None):  # dropped, nothing stored
        _send(probe, CURRENCY_METER, "events", {"gap": bad, "time": 1})
    gap = {"gap": [3, 9], "time": 200_000_010}
    _send(probe, CURRENCY_METER, "events", gap)
    _wait_acked(station, CURRENCY_METER, 9)
    _send(probe, CURRENCY_METER, "events", gap)  # the ack was lost: sent again
    _send(probe, CURRENCY_METER, "events", _ev(10, "tamper", 1, 0))
    _wait_acked(station, CURRENCY_METER, 10)
    assert [tuple(r) for r in _rows(station)] == [
        (1, "token", 0, 100),
        (2, "token", 0, 100),
        (3, "events_lost", 3, 5),  # seq = first lost, a = how many, b = last lost
        (6, "token", 0, 100),
        (7, "events_lost", 3, 9),
        (10, "tamper", 1, 0),
    ]
    acks = [
        json.loads(p)["ack"]
        for t, p, _ in probe.collect(0.5)
        if t == ROOT + CURRENCY_METER + "/cmd"
    ]
    assert 9 in acks and acks[-1] == 10
    assert _outbox(station, CURRENCY_METER) == []  # nothing for the customer


def test_a_gap_over_events_already_acked_stores_nothing_and_acks_the_top(headend):
    # A meter whose cursor on flash was lost (recycled with its block) starts from 0 and
    # announces everything before its oldest event as lost: the head-end has them all.
    station, broker, meters = headend
    probe = _meter(broker, meters, CURRENCY_METER)
    for seq in (1, 2, 3):
        _send(probe, CURRENCY_METER, "events", _ev(seq, "token", 0, 100))
    _wait_acked(station, CURRENCY_METER, 3)
    _send(probe, CURRENCY_METER, "events", {"gap": [1, 2], "time": 0})
    _send(probe, CURRENCY_METER, "events", _ev(4, "token", 0, 100))
    _wait_acked(station, CURRENCY_METER, 4)
    assert [r.kind for r in _rows(station)] == ["token"] * 4
