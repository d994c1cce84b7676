"""The frozen format-v1 vectors (token_spec/vectors/*.json) hold on this interpreter."""

import sys

from token_vectors_support import error_of, key, load_vectors

import token_spec as ts
from token_spec import ff1
from token_spec.config_blob import sign_config, verify_config


def test_nist_vector_file():
    for case in load_vectors("ff1_nist"):
        k, tweak = key(case["key"]), key(case["tweak"])
        assert ff1.encrypt(k, tweak, case["plaintext"], case["radix"]) == case["ciphertext"]
        assert ff1.decrypt(k, tweak, case["ciphertext"], case["radix"]) == case["plaintext"]


def test_token_vectors_encode_and_decode():
    cases = load_vectors("tokens")
    assert len(cases) >= 50
    seen_types = set()
    for case in cases:
        k = key(case["decoder_key"])
        token = ts.encode_token(k, case["meter"], case["type"], case["value"], case["tid"])
        assert token == case["token"], case
        assert ts.decode_token(k, case["meter"], token) == (
            case["type"],
            case["value"],
            case["tid24"],
        )
        seen_types.add(case["type"])
    # The void type (added later in format v1) has its own file, vectors/void.json.
    assert seen_types == set(range(16)) - set(ts.RESERVED_TYPES) - {ts.TYPE_VOID}


def test_token_vectors_plaintext_layout():
    # The plaintext is type(4) | TID(24) | value(16) | check(22), written as 20 digits, and
    # it deciphers from the token under the decoder key (or the public test key).
    for case in load_vectors("tokens"):
        plain = int(case["plaintext"])
        assert plain < 1 << 66
        assert plain >> 62 == case["type"]
        tid = (plain >> 38) & 0xFFFFFF
        assert tid == (0 if case["tid24"] is None else case["tid24"]) or case["type"] >= 8
        assert (plain >> 22) & 0xFFFF == case["value16"]
        assert plain & 0x3FFFFF == case["check"]
        if case["type"] == ts.TYPE_PUBLIC_TEST:
            k, tweak = ts.PUBLIC_TEST_KEY, ts.PUBLIC_METER_NUMBER.encode()
        else:
            k, tweak = key(case["decoder_key"]), case["meter"].encode()
        assert ff1.decrypt(k, tweak, case["token"]) == case["plaintext"]


def test_tid_epoch_crossing_vectors():
    crossing = [c for c in load_vectors("tokens") if c["note"] == "TID epoch crossing"]
    assert any(c["tid"] >= 1 << 24 for c in crossing)
    for case in crossing:
        # A meter whose high-water mark is a little behind still gets the full TID back.
        tid24 = ts.decode_token(key(case["decoder_key"]), case["meter"], case["token"])[2]
        assert ts.extend_tid(tid24, max(0, case["tid"] - 30)) == case["tid"]
        assert ts.extend_tid(tid24, case["tid"] + 30) == case["tid"]


def test_reject_vectors():
    for case in load_vectors("rejects"):
        exc = error_of(ts.decode_token, key(case["decoder_key"]), case["meter"], case["token"])
        assert isinstance(exc, ts.TokenError), case
        assert exc.code == case["result"], case


def test_key_derivation_vectors():
    for case in load_vectors("keys"):
        derived = ts.derive_decoder_key(key(case["vending_key"]), case["meter"], case["revision"])
        assert derived == key(case["decoder_key"])
        assert ts.key_check_value(derived) == int(case["kcv"], 16)


def test_key_change_vectors_in_every_rotation():
    for case in load_vectors("key_change"):
        current = key(case["current_key"])
        new_key = key(case["new_key"])
        tokens = ts.key_change_tokens(current, case["meter"], new_key, case["new_revision"])
        assert tokens == case["tokens"]
        payloads = ts.key_change_payloads(new_key, case["new_revision"])
        assert ["%010x" % p for p in payloads] == case["payloads"]
        for start in range(4):
            parts = ts.empty_key_parts()
            result = None
            for i in range(4):
                token = case["tokens"][(start + i) % 4]
                token_type, payload, tid = ts.decode_token(current, case["meter"], token)
                assert tid is None
                assert result is None
                parts, result = ts.add_key_part(
                    parts, token_type, payload, case["current_revision"]
                )
            assert result == (new_key, case["new_revision"])
            assert parts == ts.empty_key_parts()


def test_tid_vectors():
    for case in load_vectors("tid"):
        assert ts.extend_tid(case["tid24"], case["high_water"]) == case["full"], case


def test_amount_vectors():
    for case in load_vectors("amounts"):
        amount = case["amount"]
        assert ts.is_representable(amount) == case["representable"]
        assert ts.nearest_representable(amount) == (case["below"], case["above"])
        if case["representable"]:
            assert ts.encode_amount(amount) == case["value16"]
            assert ts.decode_amount(case["value16"]) == amount
        else:
            assert isinstance(error_of(ts.encode_amount, amount), ValueError)


def test_config_blob_vectors():
    for case in load_vectors("config_blob"):
        k = key(case["decoder_key"])
        got = verify_config(k, case["meter"], case["blob"], case["counter"] - 1)
        assert got == (case["counter"], case["config"])
        if sys.implementation.name == "cpython":
            # JSON layout is not canonical across interpreters; CPython's is the reference.
            assert sign_config(k, case["meter"], case["counter"], case["config"]) == case["blob"]


def test_meter_number_vectors():
    cases = load_vectors("meter_numbers")
    for number in cases["valid"]:
        assert ts.check_meter_number(number) == number
    for number in cases["invalid"]:
        assert isinstance(error_of(ts.check_meter_number, number), ts.MeterNumberError)
