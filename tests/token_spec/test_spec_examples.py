"""The worked examples printed in token_spec/SPEC.md are what the codec computes."""

import re

import token_spec as ts
from tests.helpers import ROOT
from token_spec.config_blob import verify_config

SPEC = (ROOT / "token_spec" / "SPEC.md").read_text()


def _section(title):
    start = SPEC.index(title)
    end = SPEC.find("\n### ", start + 1)
    return SPEC[start : end if end > 0 else len(SPEC)]


def _tokens(text):
    grouped = re.findall(r"\b\d{4} \d{4} \d{4} \d{4} \d{4}\b", text)
    return [g.replace(" ", "") for g in grouped] + re.findall(r"\b\d{20}\b", text)


def test_decoder_key_example():
    text = _section("### 12.1")
    vending = bytes.fromhex(re.search(r"vending_key\s+= (\w+)", text).group(1))
    key = ts.derive_decoder_key(vending, "01234567897", 0)
    assert key.hex() == re.search(r"decoder_key\s+= (\w+)", text).group(1)
    assert "%06x" % ts.key_check_value(key) == re.search(r"KCV\s+= (\w+)", text).group(1)


def test_credit_example():
    key = ts.derive_decoder_key(bytes(range(32)), "01234567897", 0)
    text = _section("### 12.2")
    for token in set(_tokens(text)) - {"00436822026538492620"}:
        assert ts.decode_token(key, "01234567897", token) == (0, 16390, 1589149)
    assert ts.encode_token(key, "01234567897", 0, 16390, 1589149) == "33674011905703634276"


def test_public_test_table():
    table = _tokens(SPEC[SPEC.index("### 5.7") : SPEC.index("## 6.")])
    expected = [ts.encode_token(bytes(16), "01234567897", 15, test, 0) for test in range(4)]
    assert table == expected


def test_key_change_example():
    text = _section("### 12.4")
    current = ts.derive_decoder_key(bytes(range(32)), "01234567897", 0)
    new = ts.derive_decoder_key(bytes(range(32)), "01234567897", 1)
    assert new.hex() in text
    assert _tokens(text) == ts.key_change_tokens(current, "01234567897", new, 1)


def test_config_blob_example():
    blob = re.search(r"pc1\.\S+", _section("### 12.6")).group(0)
    key = ts.derive_decoder_key(bytes(range(32)), "01234567897", 0)
    assert verify_config(key, "01234567897", blob, 0)[0] == 1
