"""Issue 13 item 8, station side, through `prepay`: station settings set by a command and
printed on receipts in local time; reprints marked COPY and logged; reprint by meter number."""

import json

import pytest

from host_tools.vending.home import CONFIG_NAME
from tests.support.cli_login import as_user
from tests.vending.test_cli import run, setup_cli_station
from tests.vending.vending_setup import KWH_METER

pytestmark = pytest.mark.usefixtures("fast_kdf", "station_env")

SETTINGS = [
    "--utility",
    "Kisumu Power Co",
    "--address",
    "12 Oginga Odinga St, Kisumu",
    "--tax-id",
    "P051234567X",
    "--tz",
    "Africa/Nairobi",
]


def _sell(home, ref, amount="60"):
    args = ["vend", KWH_METER, amount, "--ref", ref, "--channel", "cash"]
    return json.loads(run(*args, "--json", "--home", home, env=as_user("clerk")).output)


def test_station_settings_are_validated_and_printed_in_local_time(tmp_path):
    home = str(tmp_path / "home")
    setup_cli_station(home)
    before = (tmp_path / "home" / CONFIG_NAME).read_text()
    for bad, named in (
        (["--tz", "Mars/Olympus"], "--tz"),
        (["--utility", ""], "--utility"),
        (["--tax-id", "P05<script>"], "--tax-id"),
        (["--address", "x" * 161], "--address"),
    ):
        out = run("station", "settings", *bad, "--home", home, code=1).output
        assert out.startswith("Error: " + named) and len(out.strip().splitlines()) == 1
    assert (tmp_path / "home" / CONFIG_NAME).read_text() == before  # nothing changed
    shown = json.loads(run("station", "settings", *SETTINGS, "--json", "--home", home).output)
    assert shown["timezone"] == "Africa/Nairobi" and shown["tax_id"] == "P051234567X"
    sale = _sell(home, "p1")
    text = run("reprint", sale["receipt"], "--home", home).output
    assert "Kisumu Power Co" in text and "12 Oginga Odinga St, Kisumu" in text
    assert "Tax ID P051234567X" in text
    hour_utc = int(sale["created_at"][11:13])
    local = "%02d:%s EAT" % ((hour_utc + 3) % 24, sale["created_at"][14:16])
    assert local in text  # Nairobi is UTC+3 all year
    assert sale["created_at"] not in text  # not the UTC time


def test_a_reprint_is_marked_copy_and_logged_and_found_by_meter(tmp_path, db_url):
    home = str(tmp_path / "home")
    setup_cli_station(home, db_url)
    first = _sell(home, "p1")
    last = _sell(home, "p2", "80")
    original = run("vend", KWH_METER, "80", "--ref", "p2", "--channel", "cash", "--home", home)
    assert "COPY" not in original.output
    # A customer without the receipt: the meter number finds the last sale.
    copy = json.loads(run("reprint", "--meter", KWH_METER, "--json", "--home", home).output)
    assert copy["token"] == last["token"] and copy["copy"] is True
    assert copy["copy_logged"] > last["receipt"]
    text = run("reprint", "--meter", KWH_METER, "--home", home, env=as_user("clerk")).output
    assert "*** COPY" in text and last["token_grouped"] in text
    listed = json.loads(
        run("reprint", "--meter", KWH_METER, "--list", "--json", "--home", home).output
    )
    assert [r["receipt"] for r in listed] == [last["receipt"], first["receipt"]]
    # Every copy is in the audit chain, and the chain still verifies.
    audit = json.loads(run("audit", "verify", "--json", "--home", home).output)
    assert audit["ok"] is True
    assert audit["txns"] == 2 + 2  # two sales, two logged copies (the --list printed none)
    out = run("reprint", "--meter", "12345678903", "--home", home, code=1).output
    assert out.startswith("Error: ") and len(out.strip().splitlines()) == 1
