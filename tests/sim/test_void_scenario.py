"""Issue 13 item 4 over the simulator's serial port: a reversed sale's token is voided.

The station (the `prepay` CLI) sells, reverses and prints the void token; the meter is the
real firmware behind `prepay sim`, reached with `prepay device ...` verbs."""

import json

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from host_tools.cli import main
from host_tools.device.client import DeviceClient
from host_tools.vending import db, keystore, voids
from host_tools.vending.station import Station
from tests.support.cli_login import as_user, log_in

METER = "12345678903"


@pytest.fixture
def home(tmp_path, monkeypatch, sim):
    monkeypatch.setenv("PREPAY_PASSPHRASE", "void scenario passphrase")
    log_in(monkeypatch, "void scenario passphrase")  # the first admin; the CLI acts as it
    monkeypatch.setattr(keystore, "SCRYPT_N", 2**10)
    root = str(tmp_path / "station")
    run("station", "init", "--home", root)
    run("user", "add", "clerk", "--role", "cashier", "--limit", "5000", "--home", root)
    run("tariff", "add", "flat", "--kind", "flat", "--price", "1.50", "--home", root)
    run("device", "provision", "--port", sim.port, "--meter", METER, "--tariff", "flat",
        "--home", root)  # fmt: skip
    return root


def run(*args, code=0, env=None):
    result = CliRunner().invoke(main, list(args), env=env)
    assert result.exit_code == code, result.output
    return result.output


def sell_and_reverse(home, ref, amount, enter_first, port):
    sale = json.loads(run("vend", METER, amount, "--ref", ref, "--channel", "cash",
                          "--json", "--home", home, env=as_user("clerk")))  # fmt: skip
    if enter_first:
        assert "accepted" in run("device", "token", sale["token"], "--port", port)
    reversal = run(
        "reverse", sale["receipt"], "--reason", "wrong meter", "--home", home
    )  # fmt: skip  (the admin approves: it sold nothing)
    words = " ".join(reversal.split())  # rich wraps lines to the terminal's width
    assert "VOID TOKEN" in words and "must enter the VOID TOKEN" in words
    assert "already entered, the meter adds its value to the customer's debt" in words
    rev = json.loads(run("reprint", reversal.split("Receipt")[1].split()[0], "--json",
                         "--home", home))  # fmt: skip
    return sale, rev


def test_void_before_entry_makes_the_sale_token_used(home, sim):
    sale, rev = sell_and_reverse(home, "r1", "20.00", False, sim.port)
    assert rev["void_value"] == sale["units"] and rev["void_tid"] == sale["tid"] + 1
    assert "accepted" in run("device", "token", rev["void_token"], "--port", sim.port)
    out = run("device", "token", sale["token"], "--port", sim.port, code=1)
    assert out.startswith("used")  # the reversed sale's token gives nothing
    with DeviceClient(sim.port) as meter:
        st = meter.request("status")
    assert st["credit"] == 0 and st["debt"] == 0


def test_void_after_entry_puts_the_amount_on_the_debt_and_is_confirmed(home, sim):
    sale, rev = sell_and_reverse(home, "r2", "30.00", True, sim.port)
    listed = json.loads(run("void", "list", "--json", "--home", home))
    assert [(v["meter"], v["tid"]) for v in listed] == [(METER, rev["void_tid"])]
    assert "accepted" in run("device", "token", rev["void_token"], "--port", sim.port)
    with DeviceClient(sim.port) as meter:
        st = meter.request("status")
    assert st["debt"] == sale["units"] and st["credit"] == sale["units"]  # credit minus debt: 0
    # Entered twice: refused, nothing more taken.
    run("device", "token", rev["void_token"], "--port", sim.port, code=1)
    # Confirming is a supervisor's or admin's: a cashier is refused before the port is opened.
    refused = run("void", "confirm", METER, "--port", sim.port, "--home", home, code=1,
                  env=as_user("clerk"))  # fmt: skip
    assert "clerk is a cashier: confirming a void token needs a supervisor or admin" in refused
    assert len(json.loads(run("void", "list", "--json", "--home", home))) == 1
    # The station closes the void once the meter confirms it (re-entry answers `used`).
    out = run("void", "confirm", METER, "--port", sim.port, "--home", home)
    assert "confirmed" in out
    station = Station(home)
    try:
        cashiers = station.read(
            lambda conn: (
                conn.execute(select(db.txns.c.cashier).where(db.txns.c.kind == voids.CONFIRM_KIND))
                .scalars()
                .all()
            )
        )
    finally:
        station.close()
    assert cashiers == ["admin"]
    assert json.loads(run("void", "list", "--json", "--home", home)) == []
    with DeviceClient(sim.port) as meter:
        assert meter.request("status")["debt"] == sale["units"]
    assert json.loads(run("audit", "verify", "--json", "--home", home))["ok"] is True
