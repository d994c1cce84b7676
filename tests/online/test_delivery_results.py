"""What the meter says about a pushed token closes its delivery: a token it refuses (here: sold
by a station whose key is not the one the meter was provisioned with) closes as `rejected`, is
never sent again (each refusal counts towards the keypad lockout) and shows in `prepay headend
deliveries`; a token that meets a lockout waits for its end and is then accepted.

The simulated meter, the real Mosquitto and the head-end service (docs/online.md)."""

import json
import time

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from host_tools.cli import main
from host_tools.headend import service
from host_tools.vending import db, vend
from tests.online.mqtt_helpers import online_chain, wait
from tests.vending.vending_setup import CURRENCY_METER, make_station

SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
GUESS = "12345678901234567890#"  # 20 digits that are no token of this meter


def _delivery(station):
    return station.read(lambda c: c.execute(select(db.deliveries)).one())


def _token_events(meter):
    return [e for e in meter.all_events() if e["event"] == "token"]


@SQLITE_ONLY
def test_a_token_the_meter_refuses_is_rejected_once_and_listed(
    tmp_path, db_url, fast_kdf, station_env, monkeypatch
):
    monkeypatch.setattr(service, "RESEND_S", 0.3)  # so "never sent again" is seen quickly
    station = make_station(tmp_path / "home", db_url)
    other = make_station(tmp_path / "other")  # another station: another vending key
    with online_chain(tmp_path, station, CURRENCY_METER, provisioned_by=other.home) as chain:
        meter = chain[0]
        sold = vend.sell(station, CURRENCY_METER, "5", "WRONG-KEY-1", "cash", "clerk")
        wait(lambda: _delivery(station).status == "rejected", 10, "rejected")
        wait(lambda: len(_token_events(meter)) == 1, 5, "the meter's token event")
        first = _delivery(station)
        # Six resend periods: a closed delivery is not pushed again.
        time.sleep(2.0)
        row = _delivery(station)
        assert (row.status, row.result, row.attempts) == ("rejected", "reject", 1)
        assert row.closed_at == first.closed_at
        assert len(_token_events(meter)) == 1  # one wrong entry on the meter, not one a resend
        assert meter.request("status")["credit"] == 0
    out = CliRunner().invoke(
        main, ["headend", "deliveries", "--status", "rejected", "--json", "--home", station.home]
    )
    assert out.exit_code == 0, out.output
    (listed,) = json.loads(out.output)
    assert listed["receipt"] == sold["receipt"] and listed["result"] == "reject"
    text = CliRunner().invoke(main, ["headend", "--home", station.home, "deliveries"]).output
    assert f"receipt {sold['receipt']}  {CURRENCY_METER}  rejected reject" in text
    other.close()
    station.close()


@SQLITE_ONLY
def test_a_token_sent_into_a_lockout_waits_for_its_end_then_is_accepted(
    tmp_path, db_url, fast_kdf, station_env, monkeypatch
):
    monkeypatch.setattr(service, "RESEND_S", 0.3)
    monkeypatch.setattr(service, "LOCKED_RESEND_S", 1.0)
    station = make_station(tmp_path / "home", db_url)
    with online_chain(tmp_path, station, CURRENCY_METER) as chain:
        meter = chain[0]
        for _ in range(4):  # three free tries, then 10 s of lockout
            meter.request("keypad", keys=GUESS)
        assert meter.request("status")["lockout"]["seconds_left"] > 0
        vend.sell(station, CURRENCY_METER, "4", "LOCKED-1", "cash", "clerk")
        wait(lambda: _delivery(station).result == "locked", 10, "locked")
        assert _delivery(station).status == "sent"  # still on its way
        meter.request("sim.advance", seconds=11)  # the lockout ends
        wait(lambda: _delivery(station).status == "accepted", 10, "accepted")
        row = _delivery(station)
        assert row.result == "accepted" and 2 <= row.attempts <= 4
        assert meter.request("status")["credit"] == 400
    station.close()


def test_headend_command_line_errors_are_one_line(tmp_path, fast_kdf, station_env):
    station = make_station(tmp_path / "home")
    home = str(station.home)

    def run(*args):
        return CliRunner().invoke(main, ["headend", *args])

    missing = run("--home", home)
    assert missing.exit_code == 2 and "Missing option '--broker'" in missing.output
    bad = run("deliveries", "--home", home, "--meter", "123")
    assert bad.exit_code == 1 and bad.output.strip().endswith("must have 11 digits, got 3")
    assert run("deliveries", "--home", home).output.strip() == "no deliveries"
    station.close()
