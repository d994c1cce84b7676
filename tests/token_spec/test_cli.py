"""`prepay token encode|decode`: CliRunner for behaviour, one real subprocess for the binary."""

import json
import subprocess

import pytest
from click.testing import CliRunner

import token_spec as ts
from host_tools.cli import main
from host_tools.cli.token_cmds import token as token_group
from tests.helpers import venv_bin

KEY_HEX = "00112233445566778899aabbccddeeff"
METER = ts.make_meter_number("4700000001")


@pytest.fixture
def key_file(tmp_path):
    path = tmp_path / "meter.key"
    path.write_text(KEY_HEX[:16] + "\n  " + KEY_HEX[16:] + "\n")
    return str(path)


def _run(*args):
    return CliRunner().invoke(main, ["token", *args])


def test_group_is_importable_for_other_verbs():
    assert main.commands["token"] is token_group
    assert {"encode", "decode"} <= set(token_group.commands)


def test_encode_then_decode_json(key_file):
    enc = _run("encode", "--key-file", key_file, "--meter", METER, "--type", "credit",
               "--value", "16390", "--tid", "3000000", "--json")  # fmt: skip
    assert enc.exit_code == 0, enc.output
    doc = json.loads(enc.stdout)
    assert set(doc) == {"token", "type", "value", "tid"}
    assert doc["type"] == "credit" and doc["value"] == 16390 and doc["tid"] == 3000000
    expected = ts.encode_token(bytes.fromhex(KEY_HEX), METER, 0, 16390, 3000000)
    assert doc["token"] == expected
    grouped = ts.format_token(expected).replace(" ", "-", 2).split(" ")
    dec = _run("decode", "--key-file", key_file, "--meter", METER, "--json", *grouped)
    assert dec.exit_code == 0, dec.output
    assert json.loads(dec.stdout) == doc


def test_encode_text_output_and_type_names(key_file):
    for name, value, tid in (
        ("power-limit", 4600, 10),
        ("debt-recovery", 20, 11),
        ("test", 4, 12),
    ):
        res = _run("encode", "--key-file", key_file, "--meter", METER, "--type", name,
                   "--value", str(value), "--tid", str(tid))  # fmt: skip
        assert res.exit_code == 0, res.output
        first, second = res.stdout.splitlines()
        digits = first.replace(" ", "")
        assert ts.decode_token(bytes.fromhex(KEY_HEX), METER, digits) == (
            ts.type_from_name(name),
            value,
            tid,
        )
        assert name in second


def test_key_change_part_has_no_tid(key_file):
    res = _run("encode", "--key-file", key_file, "--meter", METER, "--type", "key-change-2",
               "--value", "12345", "--json")  # fmt: skip
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["tid"] is None
    dec = _run("decode", "--key-file", key_file, "--meter", METER, "--json", doc["token"])
    assert json.loads(dec.stdout)["tid"] is None


@pytest.mark.parametrize(
    "args, words",
    [
        (["decode", "--meter", METER, "1234"], "20 digits"),
        (["decode", "--meter", METER, "1234567890123456789x"], "only digits"),
        (["decode", "--meter", METER, "12345678901234567890"], "reject"),
        (["decode", "--meter", METER[:-1] + "0", "12345678901234567890"], "check digit"),
        (["encode", "--meter", METER, "--type", "refund", "--value", "1", "--tid", "1"], "type"),
        (
            ["encode", "--meter", METER, "--type", "credit", "--value", "16384", "--tid", "1"],
            "16383",
        ),
        (
            [
                "encode",
                "--meter",
                METER,
                "--type",
                "debt-recovery",
                "--value",
                "101",
                "--tid",
                "1",
            ],
            "0..100",
        ),
        (["encode", "--meter", METER, "--type", "credit", "--value", "5", "--tid", "-1"], "TID"),
    ],
)
def test_bad_input_is_one_clear_line(key_file, args, words):
    res = _run(args[0], "--key-file", key_file, *args[1:])
    assert res.exit_code != 0
    assert res.stdout == ""
    last = res.stderr.strip().splitlines()[-1]
    assert words in last, res.stderr
    assert KEY_HEX[:8] not in res.stderr


def test_bad_key_files(tmp_path):
    missing = str(tmp_path / "none.key")
    res = _run("decode", "--key-file", missing, "--meter", METER, "1" * 20)
    assert res.exit_code != 0 and "cannot read key file" in res.stderr
    secret = "deadbeefcafe" * 2  # 12 bytes: too short, and must not be echoed
    bad = tmp_path / "short.key"
    bad.write_text(secret)
    res = _run("decode", "--key-file", str(bad), "--meter", METER, "1" * 20)
    assert res.exit_code != 0 and "32 hex digits" in res.stderr
    assert "deadbeef" not in res.stderr + res.stdout
    bad.write_text("zz" * 16)
    res = _run("decode", "--key-file", str(bad), "--meter", METER, "1" * 20)
    assert res.exit_code != 0 and "32 hex digits" in res.stderr


def test_real_prepay_executable(key_file):
    prepay = venv_bin("prepay")
    token = ts.encode_token(bytes.fromhex(KEY_HEX), METER, ts.TYPE_ADD_DEBT, 1639000, 42)
    proc = subprocess.run(
        [prepay, "token", "decode", "--key-file", key_file, "--meter", METER, "--json", token],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc == {"token": token, "type": "add-debt", "value": 1639000, "tid": 42}
    proc = subprocess.run(
        [prepay, "token", "decode", "--key-file", key_file, "--meter", METER, token[:-1]],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0 and proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1 and "20 digits" in proc.stderr


def test_default_tid_is_now_and_public_tests_use_zero(key_file):
    import time

    res = _run("encode", "--key-file", key_file, "--meter", METER, "--type", "clear-tamper",
               "--value", "0", "--json")  # fmt: skip
    assert res.exit_code == 0, res.output
    now_tid = (int(time.time()) - 1577836800) // 60
    assert abs(json.loads(res.stdout)["tid"] - now_tid % (1 << 24)) <= 1
    res = _run("encode", "--key-file", key_file, "--meter", METER, "--type", "public-test",
               "--value", "2", "--json")  # fmt: skip
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["tid"] == 0
    assert doc["token"] == ts.encode_token(bytes(16), METER, ts.TYPE_PUBLIC_TEST, 2, 0)
