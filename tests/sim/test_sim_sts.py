"""An STS meter in `prepay sim`, over its serial port: credit, USED, OLD, key change, a power
cut between KCTs, the TID rollover, the relay-test voucher and the lockout (issue 16).

The decoder keys come from `prepay sts key` (DKGA02 and DKGA04 from a vending key); KCTs and
the rollover's credit token from `prepay sts keychange` / `prepay sts encode`, the rest from
token_spec's encoder (the same codec the CLI wraps)."""

import json
import subprocess
import sys

from tests.sim.sim_scenario_helpers import KEY, METER, START, power_cut
from token_spec.sts import token

VK = "abababababababab"  # STS.md §7's VUDK (DKGA02)
VK04 = "0123456789abcdef0123456789abcdef01234567"  # a 20-byte DKGA04 vending key
PAN = "600727000000000009"
KEY_ARGS = ["--vk", VK, "--dkga", "02", "--pan", PAN, "--sgc", "123456", "--ti", "01"]
KEY_ARGS += ["--kt", "2", "--krn", "1", "--base", "1993", "--ea", "07"]
TID = 16700000  # 2024-10 on base 1993, a little before the rollover
RELAY_TEST = "00000000000150997584"  # published L+G voucher: opens the load switch


def prepay(*args):
    out = subprocess.run(
        [sys.executable, "-m", "host_tools.cli", "sts", *args, "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


def dk(*args):
    return bytes.fromhex(prepay("key", *args)["dk"])


def provision(client, dk_hex, unit="kwh", scale=100, **config):
    client.request("sim.time", time=START)
    sts = {"dk": dk_hex, "ea": 7, "kt": 2, "krn": 1, "ti": 1, "ken": 255}
    sts.update({"sgc": "123456", "base": 1993, "mfr": 0, "ddtk": False})
    client.request(
        "provision",
        meter_number=METER,
        decoder_key=KEY.hex(),
        unit=unit,
        scale=scale,
        pulses_per_kwh=1000,
        config=config,
        format="sts",
        sts=sts,
    )


def credit(key, tenths, tid):
    return token.encode(key, token.EA07, 0, 0, tid, tenths, 1)


def enter(client, digits):
    return client.request("token", token=digits)["result"]


def test_sts_credit_used_and_old_after_fifty_newer(meter):
    key = dk(*KEY_ARGS)
    provision(meter, key.hex())
    st = meter.request("status")
    assert st["format"] == "sts" and st["sts"]["krn"] == 1
    assert key.hex() not in json.dumps(st) + json.dumps(meter.request("config.get"))
    first = credit(key, 100, TID)  # 10.0 kWh at 100 register units per kWh
    assert meter.request("token", token=first) == {
        "result": "accepted",
        "credit": 1000,
        "credit_text": "10.00",
    }
    assert enter(meter, first) == "used"
    for i in range(50):
        assert enter(meter, credit(key, 1, TID + 10 + i)) == "accepted"
    assert enter(meter, credit(key, 1, TID + 5)) == "old"
    assert meter.request("status")["credit"] == 1000 + 50 * 10
    # keypad entry goes through the same pipeline
    typed = meter.request("keypad", keys=credit(key, 2, TID + 100) + "#")
    assert typed["results"] == ["accepted"]


def test_kct_pair_with_a_power_cut_between_then_credit_under_the_new_key(meter):
    key = dk(*KEY_ARGS)
    provision(meter, key.hex())
    change = ["--new-ti", "02", "--new-krn", "2", "--new-kt", "2", "--ken", "255", "--ro", "0"]
    kct1, kct2 = prepay("keychange", *KEY_ARGS, *change)["tokens"]
    assert enter(meter, kct2) == "key_part_stored"  # any order
    power_cut(meter)
    assert meter.request("status")["sts"]["kct_parts_stored"] == 1
    assert enter(meter, kct1) == "accepted"
    new_args = list(KEY_ARGS)
    new_args[new_args.index("--ti") + 1] = "02"
    new_args[new_args.index("--krn") + 1] = "2"
    new_key = dk(*new_args)
    assert meter.request("status")["sts"]["krn"] == 2
    assert enter(meter, credit(new_key, 10, TID)) == "accepted"
    assert enter(meter, credit(key, 10, TID + 1)) == "reject"  # the old key is gone
    power_cut(meter)
    assert enter(meter, credit(new_key, 10, TID + 2)) == "accepted"
    assert meter.request("status")["credit"] == 200


def test_rollover_ro1_moves_to_base_2014_and_keeps_the_credit(meter):
    key = dk(*KEY_ARGS)
    provision(meter, key.hex())
    assert enter(meter, credit(key, 50, 0xFFFF00)) == "accepted"  # just before 2024-11-24
    roll = ["--new-ti", "01", "--new-krn", "2", "--new-kt", "2", "--ken", "255", "--ro", "1"]
    roll += ["--new-base", "2014", "--new-dkga", "04", "--new-vk", VK04]
    for kct in prepay("keychange", *KEY_ARGS, *roll)["tokens"]:
        enter(meter, kct)
    sts = meter.request("status")["sts"]
    assert (sts["base"], sts["krn"], sts["tids_stored"]) == (2014, 2, 0)
    new = ["--vk", VK04, "--dkga", "04", "--pan", PAN, "--sgc", "123456", "--ti", "01"]
    new += ["--kt", "2", "--krn", "2", "--base", "2014", "--ea", "07"]
    sale = ["--ken", "255", "--class", "0", "--subclass", "0", "--value", "30", "--rnd", "3"]
    issued = prepay("encode", *new, *sale, "--issued", "2024-12-01 08:00")
    assert issued["tid"] < 0xFFFF00  # minutes since 2014: far below the old TIDs
    tok = issued["token"]
    assert enter(meter, tok) == "accepted"
    assert meter.request("status")["credit"] == 500 + 300


def test_relay_test_voucher_refused_by_default(meter):
    key = dk(*KEY_ARGS)
    provision(meter, key.hex())
    enter(meter, credit(key, 100, TID))
    assert meter.request("status")["relay"] == "closed"
    assert enter(meter, RELAY_TEST) == "unsupported"
    assert meter.request("status")["relay"] == "closed"
    assert enter(meter, "00000000000167774880") == "accepted"  # display test
    assert meter.request("status")["last_test"] == 1


def test_lockout_after_bad_sts_tokens_survives_a_reboot(meter):
    key = dk(*KEY_ARGS)
    provision(meter, key.hex())
    wrong = bytes.fromhex("0abc12def3456789")
    results = [enter(meter, credit(wrong, 10, TID + i)) for i in range(5)]
    assert results[:4] == ["reject"] * 4 and results[-1] == "locked"
    locked = meter.request("status")["lockout"]
    power_cut(meter)
    assert meter.request("status")["lockout"]["until"] == locked["until"]
    assert enter(meter, credit(key, 10, TID)) == "locked"
    meter.request("sim.advance", seconds=locked["seconds_left"])
    assert enter(meter, credit(key, 10, TID)) == "accepted"
