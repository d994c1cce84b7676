"""`prepay sts encode|decode|key|keychange`: the §7 vectors and every bad-input case through the
CLI (CliRunner for behaviour, one real subprocess for the installed binary)."""

import json
import subprocess

import pytest
import sts_vectors as v
from click.testing import CliRunner

from host_tools.cli import main
from tests.helpers import venv_bin

KEY02 = ["--vk", v.VUDK, "--dkga", "02", "--sgc", v.SGC, "--ti", "01", "--kt", "2"]
KEY02 += ["--krn", "1", "--base", "1993"]
KEY04 = ["--vk", v.VK160, "--dkga", "04", "--pan", v.PAN_A, "--sgc", v.SGC4, "--ti", "01"]
KEY04 += ["--kt", "2", "--krn", "1", "--base", "1993"]


def _run(*args):
    return CliRunner().invoke(main, ["sts", *args])


def _json(*args):
    result = _run(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _issued(fields):
    return "%04d-%02d-%02d %02d:%02d" % fields


def _fails(result, *words):
    """Non-zero exit, exactly one line on stderr, naming what was wrong."""
    assert result.exit_code != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize("case", v.EA07_TOKENS, ids=lambda c: c[-1])
def test_ea07_vectors_from_the_vending_key(case):
    dk, issued, cls, sub, value, expected = case
    pan = v.PAN_B if dk == v.DK_B else v.PAN_A
    doc = _json("encode", *KEY02, "--pan", pan, "--ken", "255", "--ea", "07",
                "--issued", _issued(issued), "--rnd", "5", "--class", str(cls),
                "--subclass", str(sub), "--value", str(value))  # fmt: skip
    assert doc["token"] == expected
    assert doc["tid"] == doc["tid"] and doc["value"] == value
    back = _json("decode", *KEY02, "--pan", pan, "--ea", "07", expected)
    assert (back["class"], back["subclass"], back["value"], back["rnd"]) == (cls, sub, value, 5)
    assert back["tid"] == doc["tid"] and back["crc_ok"] is True
    assert back["issued"] == _issued(issued)
    by_dk = _json("decode", "--dk", dk, "--ea", "07", expected)
    assert by_dk["tid"] == doc["tid"] and by_dk["crc_ok"] is True


def test_worked_example_with_a_given_key_and_tid():
    w = v.WORKED
    doc = _json("encode", "--dk", w["dk"], "--ea", "07", "--tid", str(w["tid"]), "--rnd", "11",
                "--class", "0", "--subclass", "0", "--value", "256")  # fmt: skip
    assert doc["token"] == w["token"] and doc["tid"] == w["tid"]


def test_dkga04_vectors_with_both_algorithms():
    for ea, (dk, issued, expected) in (("07", v.DKGA04_EA07), ("11", v.DKGA04_EA11)):
        assert _json("key", *KEY04, "--ea", ea) == {"dk": dk}
        doc = _json("encode", *KEY04, "--ken", "255", "--ea", ea, "--issued", _issued(issued),
                    "--rnd", "5", "--class", "0", "--subclass", "0", "--value", "1")  # fmt: skip
        assert doc["token"] == expected
        assert _json("decode", "--dk", dk, "--ea", ea, expected)["value"] == 1


def test_key_prints_the_natural_hex_key():
    result = _run("key", *KEY02, "--pan", v.PAN_A, "--ea", "07")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"dk": v.DK_A}
    one_digit_ti = [("1" if a == "01" else a) for a in KEY02]
    assert _json("key", *one_digit_ti, "--pan", v.PAN_A, "--ea", "7") == {"dk": v.DK_A}


def test_keychange_vector_and_four_tokens_for_misty1():
    doc = _json("keychange", *KEY02, "--pan", v.PAN_A, "--ea", "07", "--new-ti", "02",
                "--new-krn", "1", "--new-kt", "2", "--ken", "255", "--ro", "0")  # fmt: skip
    assert doc["tokens"] == v.KCT_TOKENS
    doc = _json("keychange", *KEY04, "--ea", "11", "--new-ti", "01", "--new-krn", "2",
                "--new-kt", "2", "--new-base", "2014", "--ken", "255", "--ro", "1")  # fmt: skip
    assert len(doc["tokens"]) == 4
    old = _json("key", *KEY04, "--ea", "11")["dk"]
    subs = [_json("decode", "--dk", old, "--ea", "11", t)["subclass"] for t in doc["tokens"]]
    assert subs == [3, 4, 8, 9]
    first = _json("decode", "--dk", old, "--ea", "11", doc["tokens"][0])
    assert (first["krn"], first["ro"], first["kt"]) == (2, 1, 2)


def test_rollover_from_dkga02_to_dkga04_needs_the_new_vending_key():
    args = ["keychange", *KEY02, "--pan", v.PAN_A, "--ea", "07", "--new-ti", "01",
            "--new-krn", "2", "--new-kt", "2", "--new-base", "2014", "--new-dkga", "04",
            "--ken", "255", "--ro", "1"]  # fmt: skip
    _fails(_run(*args), "--new-vk")
    doc = _json(*args, "--new-vk", v.VK160)
    hi = _json("decode", "--dk", v.DK_A, "--ea", "07", doc["tokens"][0])
    lo = _json("decode", "--dk", v.DK_A, "--ea", "07", doc["tokens"][1])
    assert (hi["krn"], hi["ro"], lo["ti"]) == (2, 1, 1)
    new = ["--vk", v.VK160, "--dkga", "04", "--pan", v.PAN_A, "--sgc", v.SGC, "--ti", "01"]
    new_key = _json("key", *new, "--kt", "2", "--krn", "2", "--base", "2014", "--ea", "07")
    assert hi["key_part"] + lo["key_part"] == new_key["dk"]


def test_class1_tokens_decode_without_a_key():
    control, _, expected = v.TEST_ALL
    doc = _json("decode", expected)
    assert (doc["class"], doc["subclass"], doc["value"], doc["crc_ok"]) == (1, 0, control, True)
    assert doc["tid"] is None and doc["mfr_code"] == 0
    for text, bit in v.VOUCHERS:
        doc = _json("decode", *text.split())
        assert doc["tests"] == [bit] and doc["crc_ok"] is True
    enc = _json("encode", "--ea", "07", "--class", "1", "--subclass", "0", "--value", "2")
    assert enc["token"] == "00000000000167774880"


def test_rounding_up_is_reported():
    doc = _json("encode", "--dk", v.DK_A, "--ea", "07", "--tid", "1", "--class", "0",
                "--subclass", "0", "--value", "180223")  # fmt: skip
    assert (doc["requested"], doc["value"]) == (180223, 180224)
    text = _run("encode", "--dk", v.DK_A, "--ea", "07", "--tid", "1", "--class", "0",
                "--subclass", "0", "--value", "180223")  # fmt: skip
    assert "rounded up" in text.stdout


def test_currency_credit_round_trip():
    doc = _json("encode", "--dk", v.CURRENCY[0], "--ea", "07", "--tid", "6680788", "--class",
                "0", "--subclass", "4", "--value", "10000000")  # fmt: skip
    assert doc["token"] == v.CURRENCY[1] and doc["value"] == 10000624 and doc["rnd"] is None


ENC = ["encode", "--ea", "07", "--rnd", "5", "--class", "0", "--subclass", "0"]


@pytest.mark.parametrize(
    "args, words",
    [
        (["--pan", "600727000000000008", *KEY02, "--ken", "255", "--tid", "5", "--value", "1"],
         ("--pan", "Luhn")),
        (["--pan", v.PAN_A, *KEY02[:4], "--sgc", "12345", *KEY02[6:], "--ken", "255",
          "--tid", "5", "--value", "1"], ("--sgc", "6 digits")),
        (["--pan", v.PAN_A, *KEY02[:4], "--sgc", "12345a", *KEY02[6:], "--ken", "255",
          "--tid", "5", "--value", "1"], ("--sgc", "6 digits")),
        (["--dk", v.DK_A, "--tid", "5", "--value", "18201625"], ("--value", "18201625")),
        (["--dk", v.DK_A, "--tid", "5", "--value", "-1"], ("--value",)),
        (["--dk", v.DK_A, "--tid", "16777216", "--value", "1"], ("--tid", "24 bits")),
        (["--pan", v.PAN_A, *KEY02, "--ken", "255", "--issued", "2024-11-24 20:16",
          "--value", "1"], ("--issued", "24 bits")),
        (["--pan", v.PAN_A, *KEY02, "--ken", "255", "--issued", "1992-12-31 23:59",
          "--value", "1"], ("--issued", "24 bits")),
        (["--pan", v.PAN_A, *KEY02, "--ken", "88", "--issued", "2004-03-01 13:55",
          "--value", "1"], ("KEN 88",)),
        (["--pan", v.PAN_A, *KEY02, "--tid", "5", "--value", "1"], ("--ken",)),
        (["--dk", v.DK_A, "--issued", "2004-03-01", "--value", "1"], ("--issued",)),
        (["--dk", v.DK_A, "--value", "1"], ("--issued", "--tid")),
        (["--dk", "e653", "--tid", "5", "--value", "1"], ("--dk", "16 hex")),
        (["--dk", v.DK_A, *KEY02, "--pan", v.PAN_A, "--tid", "5", "--value", "1"], ("not both",)),
    ],
    ids=["luhn", "sgc-5", "sgc-letter", "value-max", "value-neg", "tid-24", "issued-after",
         "issued-before", "ken", "ken-missing", "issued-shape", "no-tid", "dk-short", "both"],
)  # fmt: skip
def test_encode_bad_input_is_one_line(args, words):
    _fails(_run(*ENC, *args), *words)


def test_bad_algorithm_class_and_subclass():
    base = ["encode", "--dk", v.DK_A, "--tid", "5", "--value", "1"]
    _fails(_run(*base, "--ea", "09", "--class", "0", "--subclass", "0"), "--ea", "EA09")
    _fails(_run(*base, "--ea", "07", "--class", "3", "--subclass", "0"), "--class")
    _fails(_run(*base, "--ea", "07", "--class", "2", "--subclass", "3"), "keychange")
    _fails(_run(*base, "--ea", "07", "--class", "0", "--subclass", "9"), "subclass 9")
    _fails(_run(*base, "--ea", "11", "--class", "0", "--subclass", "0"), "--dk", "32 hex")


def test_decode_bad_input_is_one_line():
    good = "23716100501183194197"
    _fails(_run("decode", "--dk", v.DK_A, "--ea", "07", good[:-1]), "20 digits")
    _fails(_run("decode", "--dk", v.DK_A, "--ea", "07", good + "1"), "20 digits")
    _fails(_run("decode", "--dk", v.DK_A, "--ea", "07", good[:-1] + "x"), "20 digits")
    _fails(_run("decode", "--dk", v.DK_A, "--ea", "07", "9" * 20), "2**66")
    _fails(_run("decode", "--dk", v.DK_A, "--ea", "07", good[:-1] + "8"), "CRC")
    _fails(_run("decode", "--dk", v.DK_B, "--ea", "07", good), "CRC")
    _fails(_run("decode", "--ea", "07", good), "needs a key")
    _fails(_run("decode", "--dk", v.DK_A, good), "--ea")
    _fails(_run("decode", *KEY02, "--pan", "600727000000000008", "--ea", "07", good), "Luhn")


def test_crc_failure_still_prints_the_json_with_crc_ok_false():
    result = _run("decode", "--dk", v.DK_B, "--ea", "07", "23716100501183194197", "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["crc_ok"] is False


def test_keychange_bad_input():
    base = ["keychange", *KEY02, "--pan", v.PAN_A, "--ea", "07", "--new-krn", "2",
            "--new-kt", "2", "--ken", "255"]  # fmt: skip
    _fails(_run(*base, "--new-ti", "100", "--ro", "0"), "--new-ti", "0..99")
    _fails(_run(*base, "--new-ti", "x1", "--ro", "0"), "--new-ti", "number")
    _fails(_run(*base, "--new-ti", "01", "--ro", "2"), "--ro")
    _fails(_run(*base, "--new-ti", "01", "--ro", "0", "--new-base", "2014"), "--ro 1")


def test_errors_never_echo_keys():
    result = _run(*ENC, "--pan", "600727000000000008", *KEY02, "--ken", "255", "--tid", "5",
                  "--value", "1")  # fmt: skip
    assert v.VUDK not in result.stderr + result.stdout


def test_installed_binary_encodes_and_reports_errors():
    prepay = venv_bin("prepay")
    assert prepay, "prepay is not installed in .venv"
    ok = subprocess.run(
        [prepay, "sts", "encode", "--dk", v.DK_A, "--ea", "07", "--issued", "2004-03-01 13:55",
         "--base", "1993", "--rnd", "5", "--class", "0", "--subclass", "0", "--value", "1",
         "--json"], capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["token"] == "23716100501183194197"
    bad = subprocess.run(
        [prepay, "sts", "decode", "--dk", v.DK_A, "--ea", "07", "2371610050118319419"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert bad.returncode == 1 and bad.stdout == ""
    assert bad.stderr.strip().count("\n") == 0 and "20 digits" in bad.stderr
