"""The STS station verbs through the real `prepay` entry point, as a clerk would type them:
sts-key import, meter add --format sts (and its one-line errors), vend, meter rekey,
sts rollover, report rollover, token verbs, audit verify."""

import json

import pytest

from tests.vending.sts_setup import PAN_A, PAN_C, VK02, VK04, dk
from tests.vending.test_cli import run
from token_spec import make_meter_number
from token_spec.sts import token

pytestmark = pytest.mark.usefixtures("fast_kdf", "station_env")
METER = make_meter_number("0000000021")
OTHER = make_meter_number("0000000022")
STS_OPTIONS = ["--sgc", "123456", "--ti", "01", "--krn", "1", "--ea", "07", "--dkga", "02"]


def add_args(number, pan, *extra):
    common = ["--unit", "kwh", "--scale", "1000", "--imp-per-kwh", "1000", "--tariff", "flat"]
    return ["meter", "add", number, *common, "--format", "sts", "--pan", pan, *extra]


@pytest.fixture
def home(tmp_path, db_url):
    home = str(tmp_path / "home")
    run("station", "init", "--home", home, *(["--db", db_url] if db_url else []))
    run("user", "add", "clerk", "--role", "cashier", "--limit", "500", "--home", home)
    run("tariff", "add", "flat", "--kind", "flat", "--price", "2.00", "--home", home)
    for dkga, key in (("02", VK02), ("04", VK04)):
        path = tmp_path / f"vk{dkga}.hex"
        path.write_text(key.hex() + "\n")
        run(
            "station", "sts-key", "import", "--dkga", dkga, "--key-file", str(path), "--home", home
        )
    return home


def meters(home):
    return json.loads(run("meter", "list", "--json", "--home", home).output)


def test_registration_errors_are_one_line_and_change_nothing(home, tmp_path):
    cases = (
        (add_args(METER, "600727000000000008", *STS_OPTIONS, "--base", "1993"), "Luhn"),
        (
            add_args(METER, PAN_A, *STS_OPTIONS[2:], "--sgc", "12345", "--base", "1993"),
            "SGC must be exactly 6 digits",
        ),
        (add_args(METER, PAN_A, *STS_OPTIONS), "an STS meter needs --base"),
        (add_args(METER, PAN_A, *STS_OPTIONS[:-2], "--dkga", "03", "--base", "1993"), "DKGA"),
        (
            add_args(
                METER, PAN_A, *STS_OPTIONS[:-4], "--ea", "11", "--dkga", "02", "--base", "1993"
            ),
            "needs --dkga 04",
        ),
        (add_args(METER, PAN_A, *STS_OPTIONS, "--base", "2000"), "--base must be one of"),
    )
    for args, message in cases:
        result = run(*args, "--home", home, code=1)
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], result.output
        assert VK02.hex() not in result.output
    v1_with_pan = ["meter", "add", METER, "--unit", "kwh", "--scale", "10", "--imp-per-kwh", "1"]
    result = run(*v1_with_pan, "--tariff", "flat", "--pan", PAN_A, "--home", home, code=1)
    assert "--pan is for STS meters" in result.output
    assert meters(home) == []
    bad = tmp_path / "bad.hex"
    bad.write_text("abcd")
    result = run(
        "station",
        "sts-key",
        "import",
        "--dkga",
        "04",
        "--key-file",
        str(bad),
        "--home",
        home,
        code=1,
    )
    assert "20 bytes" in result.output and "abcd" not in result.output


def test_vend_rekey_rollover_report(home):
    run(*add_args(METER, PAN_A, *STS_OPTIONS, "--base", "1993"), "--home", home)
    other = [*STS_OPTIONS[:-2], "--dkga", "04", "--base", "2014", "--ken", "255"]
    run(*add_args(OTHER, PAN_C, *other), "--home", home)
    assert [m["number"] for m in meters(home)] == [METER, OTHER]
    shown = json.loads(run("meter", "show", METER, "--json", "--home", home).output)
    assert shown["format"] == "sts" and shown["pan"] == PAN_A

    # Today is past the 1993 TID rollover: a sale for the 1993 meter is a clear refusal.
    out = run(
        "vend", METER, "10", "--ref", "p0", "--channel", "cash", "--home", home, code=1
    ).output
    assert "outside base date 1993" in out and len(out.strip().splitlines()) == 1
    ok = run("sts", "rollover", "--sgc", "123456", "--json", "--home", home).output
    assert json.loads(ok) == {"sgc": "123456", "moved": [METER], "already": [OTHER], "waiting": []}
    report = json.loads(run("report", "rollover", "--json", "--home", home).output)
    assert {m["meter"]: m["stage"] for m in report["meters"]} == {METER: "pending", OTHER: "done"}

    text = run("vend", METER, "10", "--ref", "p1", "--channel", "cash", "--home", home).output
    assert "KEY CHANGE 1/2" in text and "KEY CHANGE 2/2" in text and "3. TOKEN" in text
    sale = json.loads(run("reprint", "--ref", "p1", "--json", "--home", home).output)
    assert sale["tokens"] == sale["kcts"] + [sale["token"]]
    new = dk(PAN_A, dkga=4, base=2014, krn=2)
    assert token.decode(sale["token"], new, 7)[:2] == (0, 0)
    assert token.decode(sale["token"], new, 7)[3:] == (50, sale["tid"] & 15, True)

    later = run("vend", METER, "10", "--ref", "p2", "--channel", "cash", "--home", home).output
    assert "KEY CHANGE" not in later and "TOKEN" in later
    report = json.loads(
        run("report", "rollover", "--sgc", "123456", "--json", "--home", home).output
    )
    assert report["counts"] == {"done": 2}

    limit = json.loads(run("token", "power-limit", OTHER, "2000", "--json", "--home", home).output)
    assert token.decode(limit["token"], dk(PAN_C, base=2014, dkga=4), 7)[:2] == (2, 0)
    run("meter", "rekey", METER, "--new-krn", "3", "--home", home)
    out = run(
        "meter", "rekey", METER, "--new-krn", "4", "--new-base", "2035", "--home", home, code=1
    )
    assert "needs --ro" in out.output
    audit = json.loads(run("audit", "verify", "--json", "--home", home).output)
    assert audit["ok"]
