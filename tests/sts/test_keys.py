"""Host-side decoder-key generation (DKGA02, DKGA04) against STS.md §3 and §7, end to end."""

import ast
import subprocess
import sys

import pytest
import sts_vectors as v

from host_tools.sts import keys
from tests.helpers import ROOT
from token_spec.sts import token
from token_spec.sts.tid import tid_from_time

VK = bytes.fromhex(v.VUDK)
VK160 = bytes.fromhex(v.VK160)


def test_ctsa01_key_and_intermediate_blocks():
    assert keys.pan_block(v.PAN_A, 2) == "0072700000000000"
    assert keys.pan_block(v.PAN_B, 2) == "0000100000000008"
    assert keys.control_block(2, 123456, 1, 1) == "2123456011FFFFFF"
    assert keys.dkga02(VK, v.PAN_A, "123456", 1, 2, 1).hex() == v.DK_A


def test_dkga02_keys_behind_the_shared_vectors():
    assert keys.decoder_key(VK, 2, v.PAN_B, "123456", 1, 2, 1, 1993, 7).hex() == v.DK_B
    assert keys.decoder_key(VK, 2, v.PAN_A, "123456", 2, 2, 1, 1993, 7).hex() == v.DK_A_TI2


def test_vending_key_to_token_for_every_ea07_vector():
    for dk, issued, cls, sub, value, expected in v.EA07_TOKENS:
        pan = v.PAN_B if dk == v.DK_B else v.PAN_A
        key = keys.decoder_key(VK, 2, pan, v.SGC, 1, 2, 1, 1993, 7)
        tid = tid_from_time(*(issued + (1993,)))
        assert token.encode(key, 7, cls, sub, tid, value, 5) == expected


def test_dkga04_data_block_and_keys():
    data = keys.dkga04_data(v.PAN_A, "123457", 1, 2, 1, 1993, 7)
    expected = (
        b"\x04\x0204\x0293\x0207\x0201\x00"
        b"\x04\x06123457\x012\x011\x12600727000000000009\x00\x00\x00\x40"
    )
    assert data == expected
    assert keys.dkga04_data(v.PAN_A, "123457", 1, 2, 1, 1993, 11)[-4:] == b"\x00\x00\x00\x80"
    for ea, (dk, issued, expected_token) in ((7, v.DKGA04_EA07), (11, v.DKGA04_EA11)):
        key = keys.decoder_key(VK160, 4, v.PAN_A, v.SGC4, 1, 2, 1, 1993, ea)
        assert key.hex() == dk
        tid = tid_from_time(*(issued + (1993,)))
        assert token.encode(key, ea, 0, 0, tid, 1, 5) == expected_token


def test_dkga04_depends_on_base_date_and_krn():
    base93 = keys.decoder_key(VK160, 4, v.PAN_A, v.SGC4, 1, 2, 1, 1993, 7)
    base14 = keys.decoder_key(VK160, 4, v.PAN_A, v.SGC4, 1, 2, 1, 2014, 7)
    krn2 = keys.decoder_key(VK160, 4, v.PAN_A, v.SGC4, 1, 2, 2, 2014, 7)
    assert len({base93, base14, krn2}) == 3


def test_common_key_type_zeroes_the_iain():
    assert keys.pan_block(v.PAN_A, 3) == "0072700000000000"
    assert keys.pan_block("600727123456789014", 3) == "0072700000000000"
    assert keys.pan_block("600727123456789014", 2) == "0072712345678901"


def test_luhn_and_pan_checks():
    assert keys.luhn_ok(v.PAN_A) and keys.luhn_ok(v.PAN_B)
    for bad, why in (
        ("600727000000000008", "Luhn"),
        ("60072700000000000", "18 digits"),
        ("60072700000000000x", "18 digits"),
        ("123456000000000009", "IIN"),
    ):
        with pytest.raises(ValueError, match=why):
            keys.check_pan(bad)


@pytest.mark.parametrize(
    "args, message",
    [
        ((bytes(7), 2, v.PAN_A, "123456", 1, 2, 1, 1993, 7), "8-byte"),
        ((VK, 2, v.PAN_A, "12345", 1, 2, 1, 1993, 7), "6 digits"),
        ((VK, 2, v.PAN_A, "1234567", 1, 2, 1, 1993, 7), "6 digits"),
        ((VK, 2, v.PAN_A, "123456", 100, 2, 1, 1993, 7), "TI"),
        ((VK, 2, v.PAN_A, "123456", 1, 4, 1, 1993, 7), "KT"),
        ((VK, 2, v.PAN_A, "123456", 1, 2, 0, 1993, 7), "KRN"),
        ((VK, 2, v.PAN_A, "123456", 1, 2, 1, 1994, 7), "base date"),
        ((VK, 2, v.PAN_A, "123456", 1, 2, 1, 1993, 11), "DKGA04"),
        ((VK, 1, v.PAN_A, "123456", 1, 2, 1, 1993, 7), "DKGA01"),
        ((VK, 3, v.PAN_A, "123456", 1, 2, 1, 1993, 7), "DKGA"),
        ((VK, 4, v.PAN_A, "123456", 1, 2, 1, 1993, 7), "20-byte"),
        ((VK160, 4, v.PAN_A, "123456", 1, 2, 1, 1993, 9), "EA07 or EA11"),
    ],
)
def test_bad_key_parameters_are_named(args, message):
    with pytest.raises(ValueError, match=message):
        keys.decoder_key(*args)


def test_errors_never_show_the_vending_key():
    with pytest.raises(ValueError) as info:
        keys.decoder_key(VK, 2, "600727000000000008", "123456", 1, 2, 1, 1993, 7)
    assert v.VUDK not in str(info.value)


def test_generated_tables_are_up_to_date():
    proc = subprocess.run(
        [sys.executable, "-m", "host_tools.sts.gen_tables", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_meter_side_codec_imports_only_its_own_modules():
    # token_spec/__init__.py imports nothing; what decoding an EA07 token adds on top of it must
    # be token_spec.sts modules and the const shim only (no DES, no HMAC, no EA11 tables, no
    # encryption tables, nothing of token format v1).
    code = (
        "import sys, token_spec; before = set(sys.modules); "
        "import token_spec.sts.token as t; "
        "t.decode('23716100501183194197', bytes.fromhex('%s'), 7); "
        "print(sorted(set(sys.modules) - before))" % v.DK_A
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    added = ast.literal_eval(proc.stdout)
    assert added == [
        "token_spec.compat",
        "token_spec.sts",
        "token_spec.sts.amount",
        "token_spec.sts.crc",
        "token_spec.sts.digits",
        "token_spec.sts.sta",
        "token_spec.sts.sta_decrypt_tables",
        "token_spec.sts.tid",
        "token_spec.sts.token",
    ]
