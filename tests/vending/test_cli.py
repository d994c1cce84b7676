"""The station verbs through the real `prepay` entry point (click) and a few real processes."""

import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from host_tools.cli import main
from host_tools.vending.station import Station
from tests.support.cli_login import as_user
from tests.support.terminal import answer_prompts
from tests.vending.conftest import PASSPHRASE
from tests.vending.vending_setup import KWH_METER

pytestmark = pytest.mark.usefixtures("fast_kdf", "station_env")


def run(*args, code=0, env=None):
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result


def setup_cli_station(home, db_url=None):
    run("station", "init", "--home", home, *(["--db", db_url] if db_url else []))
    for args in (
        ["user", "add", "clerk", "--role", "cashier", "--limit", "500"],
        ["user", "add", "boss", "--role", "supervisor", "--limit", "5000"],
        ["tariff", "add", "dom", "--kind", "block", "--blocks", "50:1.00,*:2.00"],
        [
            "meter",
            "add",
            KWH_METER,
            "--unit",
            "kwh",
            "--scale",
            "1000",
            "--imp-per-kwh",
            "1000",
            "--tariff",
            "dom",
            "--customer",
            "Ada",
        ],
    ):
        run(*args, "--home", home)


def test_full_cashier_flow(tmp_path, db_url):
    home = str(tmp_path / "home")
    setup_cli_station(home, db_url)
    out = run(
        "vend",
        KWH_METER,
        "60",
        "--ref",
        "p1",
        "--channel",
        "cash",
        "--json",
        "--home",
        home,
        env=as_user("clerk"),
    ).output
    sale = json.loads(out)
    assert sale["cashier"] == "clerk"  # the logged-in user, not a typed name
    assert sale["units"] == 55000 and sale["amount"] == "60.00"  # 50 kWh + 10.00/2.00
    assert {"token", "receipt", "tid", "customer", "debt_recovered", "tariff"} <= set(sale)
    text = run("vend", KWH_METER, "60", "--ref", "p1", "--channel", "cash", "--home", home).output
    assert sale["token_grouped"] in text and "original receipt" in text
    again = json.loads(run("reprint", "--ref", "p1", "--json", "--home", home).output)
    assert again["token"] == sale["token"]
    bad = run(
        "vend",
        KWH_METER,
        "600",
        "--ref",
        "p2",
        "--channel",
        "cash",
        "--home",
        home,
        code=1,
        env=as_user("clerk"),
    )
    assert "vend limit" in bad.output and bad.output.count("\n") == 1
    run(
        "reverse",
        sale["receipt"],
        "--reason",
        "wrong meter",
        "--home",
        home,
        env=as_user("boss"),
    )
    day = json.loads(run("report", "day", "--json", "--home", home).output)
    assert day["books_balance"] and day["channels"]["cash"]["reversals"] == 1
    blob = json.loads(
        run("token", "power-limit", KWH_METER, "3000", "--json", "--home", home).output
    )
    assert blob["token_type"] == "power-limit" and blob["tid"] >= sale["tid"] + 1
    change = json.loads(run("token", "key-change", KWH_METER, "--json", "--home", home).output)
    assert len(change["tokens"]) == 4 and change["new_revision"] == 2
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"never_disconnect": True}))
    signed = json.loads(
        run("config", "sign", KWH_METER, "--file", str(config), "--json", "--home", home).output
    )
    assert signed["counter"] == 1 and signed["blob"].startswith("pc1.")
    assert json.loads(run("audit", "verify", "--json", "--home", home).output)["ok"]
    listed = json.loads(run("meter", "list", "--json", "--home", home).output)
    assert listed[0]["key_revision"] == 2
    run("tariff", "add", "cheap", "--price", "0.50", "--home", home)
    run("meter", "set-tariff", KWH_METER, "cheap", "--home", home)
    later = json.loads(
        run(
            "vend", KWH_METER, "1", "--ref", "p9", "--channel", "card", "--json", "--home", home
        ).output
    )
    assert later["tariff"] == "cheap" and later["units"] == 2000  # 1.00 / 0.50 per kWh
    missing = run("meter", "set-tariff", KWH_METER, "nope", "--home", home, code=1)
    assert "no tariff named 'nope'" in missing.output


def test_bad_arguments_are_one_line(tmp_path):
    home = str(tmp_path / "home")
    setup_cli_station(home)
    for args in (
        ["vend", "12345678901", "10", "--ref", "x", "--channel", "cash"],
        ["vend", KWH_METER, "10.001", "--ref", "x", "--channel", "cash"],
        [
            "meter",
            "add",
            "123",
            "--unit",
            "kwh",
            "--scale",
            "1",
            "--imp-per-kwh",
            "1",
            "--tariff",
            "dom",
        ],
        ["tariff", "add", "t2", "--kind", "block", "--blocks", "50:1,20:2,*:3"],
        ["reprint", "77"],
        ["token", "power-limit", KWH_METER, "lots"],
    ):
        result = run(*args, "--home", home, code=1)
        assert result.output.startswith("Error: ") and result.output.count("\n") == 1, args
    report = run("report", "day", "--date", "2026-02-30", "--home", home, code=2)
    assert "not a date" in report.output


def test_init_errors_leave_nothing_behind(tmp_path):
    home = tmp_path / "home"
    for url, words in (
        ("mysql://x@localhost/db", "unsupported database URL"),
        ("postgresql://u:hunter2@127.0.0.1:1/none", "cannot use database"),
        ("postgresql://[bad", "cannot use database"),
        ("not a url", "malformed database URL"),
    ):
        result = run("station", "init", "--home", str(home), "--db", url, code=1)
        assert words in result.output and "hunter2" not in result.output
        assert result.output.count("\n") == 1
        assert not (home / "station.json").exists() and not (home / "vending.key").exists()
    run("station", "init", "--home", str(home))
    result = run("station", "init", "--home", str(home), code=1)
    assert "already holds a station" in result.output


def test_wrong_passphrase_and_key_never_stored(tmp_path):
    home = tmp_path / "home"
    setup_cli_station(str(home))
    run("vend", KWH_METER, "10", "--ref", "p1", "--channel", "cash", "--home", str(home))
    wrong = run(
        "vend",
        KWH_METER,
        "10",
        "--ref",
        "p2",
        "--channel",
        "cash",
        "--home",
        str(home),
        env={"PREPAY_PASSPHRASE": "nope"},
        code=1,
    )
    assert "wrong passphrase" in wrong.output
    station = Station(home)
    key = station.key
    secrets = [key, key.hex().encode(), station.decoder_key(KWH_METER, 1).hex().encode()]
    for path in home.iterdir():
        if path.name != "vending.key":
            data = path.read_bytes()
            assert not any(secret in data for secret in secrets), path


def test_real_process_crash_after_commit_then_retry(tmp_path):
    """The installed entry point, killed after commit (before printing): the retry prints the
    token that was stored."""
    home = tmp_path / "home"
    setup_cli_station(str(home))
    env = dict(os.environ, PREPAY_HOME=str(home), PREPAY_PASSPHRASE=PASSPHRASE)
    cmd = [
        sys.executable,
        "-m",
        "host_tools.cli",
        "vend",
        KWH_METER,
        "25",
        "--ref",
        "r1",
        "--channel",
        "mobile",
        "--json",
    ]
    crashed = subprocess.run(
        cmd, env=dict(env, PREPAY_VEND_CRASH_AT="6"), capture_output=True, text=True, timeout=60
    )
    assert crashed.returncode == 86 and crashed.stdout == ""
    retry = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert retry.returncode == 0, retry.stderr
    sale = json.loads(retry.stdout)
    assert sale["replayed"] is True and sale["units"] == 25000


def test_init_asks_for_the_passphrase_twice_on_a_terminal(tmp_path):
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if k != "PREPAY_PASSPHRASE"}
    cmd = [sys.executable, "-m", "host_tools.cli", "station", "init", "--home", str(home)]
    code, out, err = answer_prompts(cmd, env, ["Zq9 pass", "Zq9 pass"])
    assert code == 1 and "at least 12" in err and not home.exists()  # too short: nothing made
    words = "Zq9 quartz lantern"
    code, out, err = answer_prompts(cmd, env, [words, words])
    assert code == 0, err
    assert "Zq9" not in out + err and "Warning" not in err
    os.environ["PREPAY_PASSPHRASE"] = words  # restored by the station_env fixture
    assert Station(home).key  # the prompted passphrase opens it


def test_no_terminal_and_weak_passphrases_are_one_line_and_leave_nothing(tmp_path, monkeypatch):
    """Issue 13 item 10: no passphrase and no terminal printed a Python warning and left a
    stray station.db; a one-letter passphrase was accepted."""
    home = tmp_path / "home"
    monkeypatch.delenv("PREPAY_PASSPHRASE")
    env = dict(os.environ)
    cmd = [sys.executable, "-m", "host_tools.cli", "station", "init", "--home", str(home)]
    quiet = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    assert quiet.returncode == 1 and quiet.stdout == ""
    assert quiet.stderr == "Error: no terminal to ask for the passphrase: set PREPAY_PASSPHRASE\n"
    assert not home.exists()
    for weak, words in (
        ("a", "1 characters: use at least 12"),
        ("password1234", "too weak (strength 1 of 4, need 3): This is a very common password"),
        ("aaaaaaaaaaaaaaaa", "too weak (strength 0 of 4"),
    ):
        result = run(
            "station", "init", "--home", str(home), env={"PREPAY_PASSPHRASE": weak}, code=1
        )
        assert words in result.output and result.output.count("\n") == 1, result.output
        assert len(weak) == 1 or weak not in result.output  # never repeated back
        assert not home.exists()
    run("station", "init", "--home", str(home), env={"PREPAY_PASSPHRASE": PASSPHRASE})
    assert (home / "station.db").exists()


def test_second_station_on_a_shared_database_needs_the_same_key(tmp_path, pg_server):
    from tests.vending.conftest import new_pg_database

    url = new_pg_database(pg_server)
    first, second, third = (str(tmp_path / name) for name in ("first", "second", "third"))
    setup_cli_station(first, url)
    run("vend", KWH_METER, "10", "--ref", "p1", "--channel", "cash", "--home", first)
    refused = run("station", "init", "--home", second, "--db", url, code=1)
    assert "different vending key" in refused.output
    assert not (tmp_path / "second" / "vending.key").exists()
    run("station", "init", "--home", third, "--db", url, "--key-from", f"{first}/vending.key")
    again = json.loads(
        run(
            "vend", KWH_METER, "10", "--ref", "p1", "--channel", "cash", "--json", "--home", third
        ).output
    )
    assert again["replayed"] and again["receipt"] == "00000001"
    fresh = json.loads(
        run(
            "vend", KWH_METER, "10", "--ref", "p2", "--channel", "cash", "--json", "--home", third
        ).output
    )
    assert fresh["receipt"] == "00000002" and fresh["tid"] >= again["tid"] + 1
