"""The whole online chain: a station, `prepay headend`'s service, the real Mosquitto and the
simulated meter (`prepay sim`) talking MQTT over loopback. The vend and the events run with the
station on SQLite and on PostgreSQL (tests/support/scratch_pg.py); the rest on SQLite.

A vend reaches an online meter with no keypad entry; an offline meter gets its queued token
once when it returns; a token typed in first closes its delivery as done; a token delivered
twice is applied once; the meter's events reach the database exactly once, in order, across
an outage and a power cut. (Events lost to a longer outage than the meter's ring holds:
test_meter_link.py for the meter, test_event_gap.py for the head-end.)
"""

import json
import time

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from host_tools.cli import main
from host_tools.device.client import DeviceClient
from host_tools.provisioning import provision_meter
from host_tools.sim import SimMeter
from host_tools.vending import apikeys, db, keystore, vend
from tests.online.mqtt_helpers import (
    METER_PASSWORD,
    meter_link,
    online_chain,
    running_headend,
    wait,
)
from tests.sim.sim_scenario_helpers import power_cut
from tests.support.mosquitto import ScratchBroker
from tests.vending.vending_setup import CURRENCY_METER, make_station
from tests.web.conftest import (
    LiveServer,
    TestClient,
    add_users_and_keys,
    csrf_of,
    login,
)

PASSPHRASE = "correct horse battery staple"
SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # the rest: both


@pytest.fixture
def chain(tmp_path, db_url, fast_kdf, station_env):
    """A station (on SQLite, or PostgreSQL where a test runs on both), its head-end, the broker
    and the simulated meter, online."""
    station = make_station(tmp_path / "home", db_url)
    with online_chain(tmp_path, station, CURRENCY_METER) as (meter, broker, headend):
        yield station, meter, broker, headend
    station.close()


def _link(station):
    return meter_link(station, CURRENCY_METER)


def _deliveries(station):
    return station.read(
        lambda c: c.execute(select(db.deliveries).order_by(db.deliveries.c.txn_id)).all()
    )


def _events(station):
    return station.read(
        lambda c: c.execute(
            select(db.meter_events.c.seq, db.meter_events.c.kind)
            .where(db.meter_events.c.meter == CURRENCY_METER)
            .order_by(db.meter_events.c.seq)
        ).all()
    )


def test_a_vend_reaches_an_online_meter_without_the_keypad(chain):
    station, meter, _, _ = chain
    before = meter.request("status")["credit"]
    start = time.monotonic()
    sold = vend.sell(station, CURRENCY_METER, "15", "ON-1", "cash", "clerk")
    done = wait(lambda: _deliveries(station)[0].status == "accepted", 10, "accepted")
    # The bar is 2 s; tests never assert times: bench/headend.py prints the latency.
    print(f"vend -> accepted on the meter: {done - start:.2f} s")
    row = _deliveries(station)[0]
    assert row.result == "accepted" and row.attempts == 1 and row.digits == sold["token"]
    assert meter.request("status")["credit"] == before + 1500


@SQLITE_ONLY
def test_an_offline_meter_gets_its_token_once_when_it_returns(chain):
    station, meter, _, headend = chain
    meter.request("sim.net", up=False)
    wait(lambda: not _link(station).online, 10, "offline")
    assert _meters_cli(station, "--offline")[0]["meter"] == CURRENCY_METER  # its last will
    vend.sell(station, CURRENCY_METER, "7", "OFF-1", "cash", "clerk")
    time.sleep(1.0)
    assert [r.status for r in _deliveries(station)] == ["pending"]  # nobody to push to
    meter.request("sim.net", up=True)
    wait(lambda: _deliveries(station)[0].status == "accepted", 15, "accepted")
    assert _deliveries(station)[0].attempts == 1
    assert meter.request("status")["credit"] == 700
    assert _meters_cli(station, "--offline") == []
    status = meter.request("status")
    wait(lambda: _meters_cli(station)[0]["credit_text"] == status["credit_text"], 10, "state")
    (row,) = _meters_cli(station)
    assert row["online"] and row["relay"] == status["relay"] and row["events_lost"] == 0
    text = CliRunner().invoke(main, ["headend", "meters", "--home", station.home]).output
    assert f"{CURRENCY_METER}  online  since" in text and status["credit_text"] in text


def _meters_cli(station, *args):
    """`prepay headend meters --json` (the engineer's view of the head-end's meter links)."""
    got = CliRunner().invoke(main, ["headend", "meters", "--json", "--home", station.home, *args])
    assert got.exit_code == 0, got.output
    return json.loads(got.output)


@SQLITE_ONLY
def test_a_token_typed_in_first_closes_its_delivery_as_done(chain):
    station, meter, _, _ = chain
    meter.request("sim.net", up=False)
    wait(lambda: not _link(station).online, 10, "offline")
    sold = vend.sell(station, CURRENCY_METER, "5", "KEY-1", "cash", "clerk")
    assert meter.request("keypad", keys=sold["token"] + "#")["results"] == ["accepted"]
    meter.request("sim.net", up=True)
    wait(lambda: _deliveries(station)[0].status == "done", 15, "done")
    assert _deliveries(station)[0].result == "used"
    assert meter.request("status")["credit"] == 500  # applied once


@SQLITE_ONLY
def test_broker_restart_mid_delivery_loses_nothing(chain):
    station, meter, broker, _ = chain
    broker.restart(down_s=0)  # before the sale's push: the queue is in the database
    sold = [vend.sell(station, CURRENCY_METER, "2", f"BR-{i}", "cash", "clerk") for i in (1, 2)]
    broker.restart(down_s=0.5)  # while those deliveries may be in flight
    wait(lambda: all(r.status == "accepted" for r in _deliveries(station)), 30, "accepted")
    assert len(sold) == len(_deliveries(station)) == 2
    assert meter.request("status")["credit"] == 400


def test_events_arrive_exactly_once_in_order_across_outage_and_power_cut(chain):
    station, meter, _, _ = chain
    meter.request("sim.net", up=False)
    wait(lambda: not _link(station).online, 10, "offline")
    for _ in range(3):
        meter.request("sim.tamper", open=True)
        meter.request("sim.tamper", open=False)
    vend_digits = vend.sell(station, CURRENCY_METER, "1", "EV-1", "cash", "clerk")["token"]
    meter.request("keypad", keys=vend_digits + "#")  # a commit: the tamper events are durable
    power_cut(meter)
    on_meter = [e["seq"] for e in meter.all_events()]
    wait(lambda: [r.seq for r in _events(station)] == on_meter, 20, "every event stored")
    stored = _events(station)
    assert [r.seq for r in stored] == list(range(1, len(stored) + 1))
    assert [r.kind for r in stored].count("boot") >= 2
    assert _link(station).acked_seq == on_meter[-1]


def test_a_token_delivered_twice_is_applied_once(chain):
    # The head-end loses the meter's answer (its row goes back to "sent", long ago, as after a
    # crash before the result was recorded) and delivers the token again: the meter answers
    # "used" and the delivery closes as done; the credit moved once.
    station, meter, _, _ = chain
    sold = vend.sell(station, CURRENCY_METER, "6", "TW-1", "cash", "clerk")
    wait(lambda: _deliveries(station)[0].status == "accepted", 10, "accepted")
    assert meter.request("status")["credit"] == 600
    dl = db.deliveries
    station.write(
        lambda c: c.execute(
            dl.update()
            .where(dl.c.digits == sold["token"])
            .values(status="sent", sent_at="2000-01-01T00:00:00+00:00")
        )
    )
    wait(lambda: _deliveries(station)[0].status == "done", 15, "delivered again")
    row = _deliveries(station)[0]
    assert row.result == "used" and row.attempts == 2
    assert meter.request("status")["credit"] == 600


def test_the_whole_chain_over_tls_with_a_generated_ca(tmp_path, monkeypatch):
    monkeypatch.setattr(keystore, "SCRYPT_N", 2**10)
    monkeypatch.setenv("PREPAY_PASSPHRASE", PASSPHRASE)
    monkeypatch.setenv("PREPAY_USER_PASSWORD", PASSPHRASE)
    home = tmp_path / "home"
    station = make_station(home)
    with (
        ScratchBroker(meters={CURRENCY_METER: METER_PASSWORD}, tls=True) as broker,
        SimMeter(tmp_path / "state", speed=0) as sim,
        DeviceClient(sim.port, timeout=10) as meter,
    ):
        assert broker.url.startswith("mqtts://")
        provision_meter(sim.port, CURRENCY_METER, home=str(home))
        with running_headend(home, broker, ca_file=broker.ca_file):
            network = {
                "broker": broker.url,
                "password": METER_PASSWORD,
                "ca": broker.ca_pem.decode(),
            }
            meter.request("net.set", network=network)
            wait(lambda: _link(station) is not None and _link(station).online, 15, "online")
            assert meter.request("status")["network"]["tls"] is True
            vend.sell(station, CURRENCY_METER, "3", "TLS-1", "cash", "clerk")
            wait(lambda: _deliveries(station)[0].status == "accepted", 10, "accepted")
            assert meter.request("status")["credit"] == 300
    station.close()


def test_a_sale_through_the_http_api_reaches_the_online_meter(chain, tmp_path):
    """The mobile-money operator's `POST /api/v1/vends` on a real `prepay serve` (another
    process on the same database): the head-end pushes that token too, no keypad entry."""
    station, meter, _, _ = chain
    stamp = station.stamp()
    key = station.write(lambda conn: apikeys.add_key(conn, "mobile", "op-mobile", stamp)[0])
    server = LiveServer(station.home, tmp_path / "serve.log").start()
    try:
        body = {"meter": CURRENCY_METER, "amount": "12.00", "ref": "MM-1", "channel": "mobile"}
        sold = httpx.post(
            server.url + "/api/v1/vends",
            json=body,
            headers={"authorization": f"Bearer {key}"},
            timeout=30,
        )
        assert sold.status_code == 201, sold.text
        wait(lambda: _deliveries(station)[0].status == "accepted", 10, "accepted")
    finally:
        server.stop()
    row = _deliveries(station)[0]
    assert row.digits == sold.json()["token"] and row.attempts == 1
    assert meter.request("status")["credit"] == 1200


@SQLITE_ONLY
def test_a_sale_at_the_web_counter_reaches_the_online_meter(chain, cheap_hashes):
    """The cashier's form (`POST /meters/<n>/sell`, the web app in process): pushed too."""
    from host_tools.web.app import create_app

    station, meter, _, _ = chain
    add_users_and_keys(station)
    with TestClient(create_app(station), base_url="http://station.test") as client:
        assert login(client, "clerk").status_code == 303
        page = client.get(f"/meters/{CURRENCY_METER}")
        form = {"amount": "6", "channel": "cash", "cash_ref": "WEB-1", "csrf": csrf_of(page.text)}
        sold = client.post(f"/meters/{CURRENCY_METER}/sell", data=form)
        assert sold.status_code == 200, sold.text
    wait(lambda: _deliveries(station)[0].status == "accepted", 10, "accepted")
    assert meter.request("status")["credit"] == 600
