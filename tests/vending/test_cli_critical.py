"""`prepay meter critical`: a supervisor flags an existing meter never-disconnect, or removes the
flag with the meter number typed again and a reason, and gets the signed config (as the web's
never-disconnect page does, through never_disconnect.set_flag)."""

import json

import pytest

from host_tools.vending import never_disconnect
from host_tools.vending.station import Station
from tests.support.cli_login import as_user
from tests.vending.test_cli_login import NOBODY, NOT_LOGGED_IN, books, run
from tests.vending.test_cli_login import home as home  # noqa: F401 - the fixture
from tests.vending.vending_setup import KWH_METER

pytestmark = pytest.mark.usefixtures("fast_kdf", "station_env")

REMOVE = ("--remove", "--confirm", KWH_METER, "--reason", "clinic moved out")


def flagged(home):
    station = Station(home)
    try:
        return {m["number"]: m for m in never_disconnect.flagged(station)}
    finally:
        station.close()


def test_a_supervisor_flags_a_meter_and_gets_its_signed_config(home):
    before = books(home)
    for env, said in (
        (NOBODY, NOT_LOGGED_IN),
        (as_user("clerk"), "Error: clerk is a cashier: never-disconnect needs a supervisor "
         "or admin\n"),
    ):  # fmt: skip
        assert run(home, "meter", "critical", KWH_METER, code=1, env=env) == said
    assert books(home) == before and flagged(home) == {}

    out = run(home, "meter", "critical", KWH_METER, env=as_user("boss"))
    words = " ".join(out.split())
    assert "SIGNED CONFIG" in words and "never_disconnect: (unset) -> true" in words
    assert "Cashier boss" in words
    assert f"prepay config applied {KWH_METER} 1" in words and "prepay device config" in words
    blob = next(line for line in out.splitlines() if line.startswith("pc1."))
    state = flagged(home)[KWH_METER]
    assert state["in_config"] and state["pending"] == 1 and state["signed_counter"] == 1
    # the receipt is the audit chain's config txn: reprinted, it names the supervisor
    signed = json.loads(run(home, "config", "sign", KWH_METER, "--dry-run", "--json"))
    assert signed["config"]["never_disconnect"] is True and signed["changes"] == []
    assert blob.count(".") == 2
    out = run(home, "meter", "critical", KWH_METER, code=1, env=as_user("boss"))
    assert out == (
        f"Error: meter {KWH_METER} is already never-disconnect (its signed config 1 has it)\n"
    )


def test_removing_needs_the_number_typed_again_and_a_reason(home):
    run(home, "meter", "critical", KWH_METER, env=as_user("boss"))
    before = books(home), flagged(home)
    for args, said in (
        (("--remove",), "--confirm must repeat the meter number"),
        (("--remove", "--confirm", "12345678911", "--reason", "x"),
         "--confirm must repeat the meter number"),
        (("--remove", "--confirm", KWH_METER), "--reason is required"),
        (("--remove", "--confirm", KWH_METER, "--reason", "   "), "--reason is required"),
        (("--reason", "x"), "--confirm and --reason go with --remove"),
    ):  # fmt: skip
        out = run(home, "meter", "critical", KWH_METER, *args, code=1, env=as_user("boss"))
        assert said in out, args
    out = run(home, "meter", "critical", KWH_METER, *REMOVE, code=1, env=as_user("clerk"))
    assert out == "Error: clerk is a cashier: never-disconnect needs a supervisor or admin\n"
    assert run(home, "meter", "critical", KWH_METER, *REMOVE, code=1, env=NOBODY) == NOT_LOGGED_IN
    assert (books(home), flagged(home)) == before

    done = json.loads(run(home, "meter", "critical", KWH_METER, *REMOVE, "--json",
                          env=as_user("chief")))  # fmt: skip
    assert done["cashier"] == "chief" and done["counter"] == 2
    assert done["never_disconnect_removed"] == {
        "confirmed": KWH_METER,
        "reason": "clinic moved out",
    }
    assert flagged(home) == {}
    out = run(home, "meter", "critical", KWH_METER, *REMOVE, code=1, env=as_user("chief"))
    assert out == f"Error: meter {KWH_METER} is not never-disconnect\n"
    assert "not registered" in run(home, "meter", "critical", "12345678911", code=1)
