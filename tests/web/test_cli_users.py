"""`prepay user`, `prepay apikey`, `prepay serve` and the first admin of `station init`, through
the real entry point (click), wrong arguments too."""

import json
import os
import sys

import pytest
from click.testing import CliRunner

from host_tools.cli import main
from host_tools.vending import apikeys, users
from host_tools.vending.station import Station
from tests.support.terminal import answer_prompts

pytestmark = pytest.mark.usefixtures("fast_kdf", "station_env", "cheap_hashes")


def run(*args, code=0, env=None, input=None):
    result = CliRunner().invoke(main, list(args), env=env, input=input, catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result


def test_station_init_creates_the_first_admin(tmp_path):
    home = str(tmp_path / "home")
    out = json.loads(run("station", "init", "--home", home, "--admin", "ana", "--json").output)
    assert out["admin"] == "ana"
    listed = json.loads(run("user", "list", "--home", home, "--json").output)
    assert [(u["name"], u["role"]) for u in listed] == [("ana", "admin")]
    station = Station(home)
    assert users.authenticate(station, "ana", "correct horse battery staple", "t").role == "admin"
    station.close()


def test_station_init_asks_for_the_admin_password_twice(tmp_path, monkeypatch):
    monkeypatch.delenv("PREPAY_USER_PASSWORD")
    home = str(tmp_path / "home")
    cmd = [sys.executable, "-m", "host_tools.cli", "station", "init", "--home", home]
    code, out, err = answer_prompts(cmd, dict(os.environ), ["s3cret pass", "s3cret pass"])
    assert code == 0, err
    assert "s3cret" not in out + err and "Password for admin" in err
    # no terminal and no PREPAY_USER_PASSWORD: one line, and no station
    other = str(tmp_path / "other")
    refused = run("station", "init", "--home", other, code=1)
    assert refused.output == "Error: no terminal to ask for admin's password: set " \
        "PREPAY_USER_PASSWORD\n"  # fmt: skip
    assert not os.path.exists(other)
    station = Station(home)
    assert users.authenticate(station, "admin", "s3cret pass", "t").name == "admin"
    station.close()


def test_a_short_admin_password_leaves_no_station_behind(tmp_path, monkeypatch):
    monkeypatch.setenv("PREPAY_USER_PASSWORD", "short")
    home = tmp_path / "home"
    result = run("station", "init", "--home", str(home), code=1)
    assert "a password must be 8..256 characters" in result.output
    assert not (home / "station.json").exists()


def test_user_add_list_and_wrong_arguments(tmp_path):
    home = str(tmp_path / "home")
    run("station", "init", "--home", home)
    assert (
        "user ann added as cashier"
        in run("user", "add", "ann", "--role", "cashier", "--limit", "300", "--home", home).output
    )
    run("user", "add", "sup", "--role", "supervisor", "--home", home)
    assert "already exists" in run("user", "add", "ann", "--role", "admin", "--home", home,
                                   code=1).output  # fmt: skip
    assert "'king' is not one of" in run("user", "add", "x", "--role", "king", "--home", home,
                                         code=2).output  # fmt: skip
    assert "--role" in run("user", "add", "x", "--home", home, code=2).output
    listed = json.loads(run("user", "list", "--home", home, "--json").output)
    assert {u["name"]: (u["role"], u["vend_limit"]) for u in listed} == {
        "admin": ("admin", "5000.00"),
        "ann": ("cashier", "300.00"),
        "sup": ("supervisor", "5000.00"),
    }
    assert "password" not in json.dumps(listed) and "argon2" not in json.dumps(listed)
    # one model: the user is the cashier the vend code reads (limit, may approve reversals)
    cashiers = {c["id"]: c for c in json.loads(run("station", "cashier", "list", "--home",
                                                   home, "--json").output)}  # fmt: skip
    assert cashiers["ann"]["limit"] == "300.00" and not cashiers["ann"]["supervisor"]
    assert cashiers["sup"]["supervisor"]


def test_apikey_add_prints_the_key_once_and_revoke_refuses_it(tmp_path):
    home = str(tmp_path / "home")
    run("station", "init", "--home", home)
    made = json.loads(run("apikey", "add", "--channel", "mobile", "--name", "mpesa", "--json",
                          "--home", home).output)  # fmt: skip
    assert made["key"].startswith("pp_") and made["channel"] == "mobile"
    listing = run("apikey", "list", "--home", home, "--json").output
    assert made["key"] not in listing and made["key"].split("_", 2)[2] not in listing
    station = Station(home)
    assert station.read(lambda conn: apikeys.lookup(conn, made["key"])).name == "mpesa"
    run("apikey", "revoke", made["id"], "--home", home)
    assert station.read(lambda conn: apikeys.lookup(conn, made["key"])) is None
    station.close()
    assert "no live API key" in run("apikey", "revoke", made["id"], "--home", home,
                                    code=1).output  # fmt: skip
    assert "'bitcoin' is not one of" in run("apikey", "add", "--channel", "bitcoin", "--home",
                                            home, code=2).output  # fmt: skip


def test_serve_refuses_a_station_that_does_not_exist(tmp_path):
    result = run("serve", "--home", str(tmp_path / "none"), code=1)
    assert "no station in" in result.output
    assert "65536" in run("serve", "--port", "65536", code=2).output


def test_a_supervisor_key_registers_an_approver_that_cannot_sell(tmp_path):
    home = str(tmp_path / "home")
    run("station", "init", "--home", home)
    made = json.loads(run("apikey", "add", "--channel", "mobile", "--name", "mpesa",
                          "--supervisor", "--json", "--home", home).output)  # fmt: skip
    assert made["role"] == "supervisor"
    cashiers = {c["id"]: c for c in json.loads(run("station", "cashier", "list", "--home",
                                                   home, "--json").output)}  # fmt: skip
    approver = cashiers["api:mpesa/supervisor"]
    assert approver["supervisor"] and approver["limit"] == "0.00"
    assert "may not contain" in run("apikey", "add", "--channel", "card", "--name", "a/b",
                                    "--home", home, code=1).output  # fmt: skip
