"""Issue 13 items 1 and 7 through the CLI and over the simulator's serial port: a meter's config
is built from the registry, checked against the schema the meter enforces, compared with the last
one, and applied with `prepay device config`; the simulator's world is driven by `prepay device
load|advance|power-cut|tamper` instead of raw JSON lines."""

import json

import pytest
from click.testing import CliRunner

from host_tools import provisioning as pv
from host_tools.cli import main
from host_tools.sim.meter import SimMeter
from host_tools.vending import keystore
from host_tools.vending.station import Station
from tests.support.cli_login import log_in
from token_spec.config_blob import sign_config

METER = "12345678903"
PASSPHRASE = "correct horse battery staple"


def run(*args, code=0):
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == code, result.output
    if code:
        assert result.output.startswith("Error: ") and result.output.count("\n") == 1, args
    return result.output


def js(*args):
    return json.loads(run(*args, "--json"))


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("PREPAY_PASSPHRASE", PASSPHRASE)
    log_in(monkeypatch, PASSPHRASE)  # station init's first admin; the CLI acts as it
    monkeypatch.setattr(keystore, "SCRYPT_N", 2**10)
    home = tmp_path / "station"
    run("station", "init", "--home", home)
    run("tariff", "add", "flat", "--price", "1.50", "--home", home)
    run("meter", "add", METER, "--unit", "currency", "--scale", "100", "--imp-per-kwh", "1000",
        "--tariff", "flat", "--critical", "--customer", "Hospital", "--home", home)  # fmt: skip
    return home


@pytest.fixture
def port(tmp_path, home):
    with SimMeter(tmp_path / "meter", speed=0) as sim:
        pv.provision_meter(sim.port, METER, home)
        yield sim.port


def sign(home, *extra, code=0):
    args = ("config", "sign", METER, *extra, "--home", home)
    return run(*args, code=code) if code else js(*args)


def device_config(port):
    return js("device", "config", "--port", port)


def test_a_typo_or_unknown_key_is_refused_by_station_and_meter(home, port, tmp_path):
    """Item 1: `config sign` signed {"never_disconect": true}; the meter took it and opened."""
    typo = tmp_path / "typo.json"
    typo.write_text('{"never_disconect": true}')
    out = sign(home, "--file", typo, code=1)
    assert "unknown key 'never_disconect'" in out
    unknown = tmp_path / "foo.json"
    unknown.write_text('{"foo": 1}')
    assert "unknown key 'foo'" in sign(home, "--file", unknown, code=1)
    big = tmp_path / "big.json"
    big.write_text('{"low_days": 9999}')
    assert "low_days must be an integer in 0..365" in sign(home, "--file", big, code=1)
    # The meter enforces the same schema: a blob signed around the station is refused there.
    station = Station(home)
    key = station.decoder_key(METER, 1)
    station.close()
    forged = sign_config(key, METER, 50, {"never_disconect": True})
    out = run("device", "config", forged, "--port", port, code=1)
    assert "unknown key 'never_disconect'" in out
    assert device_config(port)["counter"] == 0


def test_the_built_config_keeps_a_critical_meter_connected(home, port, tmp_path):
    r = sign(home)
    assert r["config"]["never_disconnect"] is True
    assert r["config"]["tariff"] == {"type": "flat", "price": 150}
    assert "never_disconnect: (unset) -> true" in r["changes"]
    assert js("device", "config", r["blob"], "--port", port) == {"applied": True, "counter": 1}
    shown = device_config(port)
    assert shown["counter"] == 1 and shown["config"]["never_disconnect"] is True
    # No credit at all, yet the relay stays closed: never-disconnect is in force.
    status = js("device", "status", "--port", port)
    assert status["relay"] == "closed"

    # A hand-written config that drops never-disconnect is refused unless done on purpose.
    off = tmp_path / "off.json"
    off.write_text('{"never_disconnect": false}')
    assert "removes never-disconnect" in sign(home, "--file", off, code=1)
    wrong = ("--remove-never-disconnect", "--confirm", "12345678911", "--reason", "moved out")
    assert "--confirm must repeat the meter number" in sign(home, "--file", off, *wrong, code=1)
    no_reason = ("--remove-never-disconnect", "--confirm", METER)
    assert "--reason is required" in sign(home, "--file", off, *no_reason, code=1)
    dry = sign(home, "--file", off, *no_reason, "--reason", "moved out", "--dry-run")
    assert dry["changes"] == ["never_disconnect: true -> false"]
    done = sign(home, "--file", off, *no_reason, "--reason", "hospital closed")
    assert done["never_disconnect_removed"] == {"confirmed": METER, "reason": "hospital closed"}
    assert done["counter"] == 2  # the dry run signed nothing
    assert js("audit", "verify", "--home", home)["ok"] is True


def test_simulator_verbs_replace_raw_json_lines(home, port):
    """Item 7: load, time, power cuts and the tamper switch were raw `sim.*` lines."""
    receipt = js("vend", METER, "10.00", "--ref", "R1", "--channel", "cash", "--home", home)
    run("device", "token", receipt["token"], "--port", port)
    assert js("device", "load", "3000", "--port", port) == {"watts": 3000}
    before = js("device", "status", "--port", port)["credit"]
    js("device", "advance", "3600", "--port", port)
    after = js("device", "status", "--port", port)
    assert after["credit"] == before - 450  # 3 kWh at 1.50
    assert js("device", "tamper", "open", "--port", port) == {"open": True}
    assert js("device", "power-cut", "--port", port)["power_cut"] is True
    assert js("device", "status", "--port", port)["credit"] == after["credit"]
    bad = CliRunner().invoke(main, ["device", "advance", "lots", "--port", port])
    assert bad.exit_code == 2 and "'lots' is not a valid integer" in bad.output


def test_a_tariff_change_reaches_a_currency_meter(home, port):
    """Item 3: after `meter set-tariff` receipts showed the new tariff while the meter kept
    charging the old price, and a currency meter's standing charge was silently dropped."""
    run("tariff", "add", "dear", "--price", "3.00", "--standing-charge", "30.00", "--home", home)
    run("tariff", "add", "odd", "--price", "3.00", "--standing-charge", "10.00", "--home", home)
    # A standing charge the meter cannot charge exactly per day is refused, and nothing moves.
    out = run("meter", "set-tariff", METER, "odd", "--home", home, code=1)
    assert "charges the standing charge per day" in out and "multiple of 0.30" in out
    assert js("meter", "show", METER, "--home", home)["tariff"] == "flat"

    changed = js("meter", "set-tariff", METER, "dear", "--home", home)
    config = changed["config"]
    assert config["tariff_change"] == "dear" and config["counter"] == 1
    assert config["config"]["tariff"] == {"type": "flat", "price": 300}
    assert config["config"]["standing_charge"] == 100  # 30.00 a month = 1.00 a day
    sale = js("vend", METER, "20.00", "--ref", "R1", "--channel", "cash", "--home", home)
    assert sale["config_counter"] == 1 and sale["config_blob"] == config["blob"]
    printed = run("reprint", sale["receipt"], "--home", home)
    assert "New meter config 1" in printed and config["blob"][:40] in printed

    run("device", "token", sale["token"], "--port", port)
    run("device", "config", sale["config_blob"], "--port", port)
    assert js("device", "status", "--port", port)["price"] == 300
    js("device", "load", "1000", "--port", port)
    before = js("device", "status", "--port", port)["credit"]
    js("device", "advance", "1200", "--port", port)  # 1/3 kWh at 3.00
    assert js("device", "status", "--port", port)["credit"] == before - 100

    run("config", "applied", METER, "1", "--home", home)
    later = js("vend", METER, "5.00", "--ref", "R2", "--channel", "cash", "--home", home)
    assert "config_blob" not in later
    assert "no signed config 7" in run("config", "applied", METER, "7", "--home", home, code=1)


def test_time_of_use_is_sold_and_configured(home, port):
    """Item 7: `tariff add --kind tou` was refused; TOU with blocks did not exist anywhere."""
    run("tariff", "add", "tou", "--kind", "tou", "--tou", "00:00:1.00,17:00:3.00",
        "--tou-weekend", "00:00:0.80", "--home", home)  # fmt: skip
    run("tariff", "add", "toub", "--kind", "tou-block", "--tou", "00:00:1.00",
        "--blocks", "50:0,*:0.50", "--home", home)  # fmt: skip
    shown = js("tariff", "show", "tou", "--home", home)
    assert shown["tou"]["holiday"] == [[0, 8000]]  # holidays follow the weekend
    bad = run("tariff", "add", "x", "--kind", "tou", "--tou", "06:00:1.00", "--home", home, code=1)
    assert "must start at 00:00" in bad
    # A kWh meter cannot be priced by the clock: refused with the reason.
    out = run("meter", "add", "12345678911", "--unit", "kwh", "--scale", "1000",
              "--imp-per-kwh", "1000", "--tariff", "tou", "--home", home, code=1)  # fmt: skip
    assert "time-of-use needs a currency meter" in out

    r = js("meter", "set-tariff", METER, "tou", "--home", home)["config"]
    assert r["config"]["tariff"] == {
        "type": "tou",
        "weekday": [["00:00", 100], ["17:00", 300]],
        "weekend": [["00:00", 80]],
        "holiday": [["00:00", 80]],
    }
    sale = js("vend", METER, "20.00", "--ref", "T1", "--channel", "cash", "--home", home)
    assert sale["config_counter"] == 1
    run("device", "config", sale["config_blob"], "--port", port)
    status = js("device", "status", "--port", port)
    assert status["tariff"] == "tou" and status["price"] in (80, 100, 300)

    r = js("meter", "set-tariff", METER, "toub", "--home", home)["config"]
    assert r["config"]["tariff"] == {
        "type": "tou_blocks",
        "weekday": [["00:00", 100]],
        "weekend": [["00:00", 100]],
        "holiday": [["00:00", 100]],
        "blocks": [[50, 0], [0, 50]],
    }
    run("device", "config", r["blob"], "--port", port)
    status = js("device", "status", "--port", port)
    assert status["tariff"] == "tou_blocks" and status["price"] == 100  # first block adds 0


def test_station_defaults_for_friendly_hours_and_holidays_go_through_the_schema(home):
    path = home / "station.json"
    settings = json.loads(path.read_text())
    friendly = {"windows": [{"days": ["sat", "sun"], "start": "00:00", "end": "24:00"}]}
    settings["meter_config"] = {"friendly": friendly, "holidays": ["2026-12-25"]}
    path.write_text(json.dumps(settings))
    r = sign(home, "--dry-run")
    assert r["config"]["friendly"] == friendly and r["config"]["holidays"] == ["2026-12-25"]
    assert 'holidays: (unset) -> ["2026-12-25"]' in r["changes"]
    settings["meter_config"] = {"holidays": ["2026-02-30"]}
    path.write_text(json.dumps(settings))
    assert "bad date '2026-02-30': no such day" in sign(home, code=1)
