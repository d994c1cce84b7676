"""Signed config blobs: authentic ones verify; forged, truncated, foreign or replayed do not."""

from token_vectors_support import error_of

import token_spec as ts
from token_spec.config_blob import ConfigBlobError, sign_config, verify_config

KEY = bytes(range(16))
METER = ts.make_meter_number("0123456789")
CONFIG = {"price": 2500, "zones": [[0, 1000], [7, 1200]], "never_disconnect": False}


def _error(blob, key=KEY, meter=METER, last=0):
    exc = error_of(verify_config, key, meter, blob, last)
    assert isinstance(exc, ConfigBlobError), exc
    return str(exc)


def test_round_trip_and_size():
    blob = sign_config(KEY, METER, 3, CONFIG)
    assert verify_config(KEY, METER, blob, 2) == (3, CONFIG)
    assert len(blob) < 1024 and " " not in blob and "\n" not in blob
    assert isinstance(blob.encode(), bytes)


def test_replay_and_rollback_are_refused():
    blob = sign_config(KEY, METER, 3, CONFIG)
    assert "replay" in _error(blob, last=3)
    assert "replay" in _error(blob, last=10)


def test_forged_truncated_and_foreign_blobs_are_refused():
    blob = sign_config(KEY, METER, 3, CONFIG)
    prefix, payload, mac = blob.split(".")
    flipped = payload[:10] + ("A" if payload[10] != "A" else "B") + payload[11:]
    assert "signature" in _error(prefix + "." + flipped + "." + mac)
    assert "signature" in _error(blob, key=bytes(16))
    assert "truncated" in _error(blob[:-5])
    assert "truncated" in _error(prefix + ".")
    assert "signature" in _error(blob[:40] + blob[-64 - 1 :])
    assert "pc1" in _error("hello")
    assert "pc1" in _error(None)
    other = ts.make_meter_number("0123456788")
    assert "not this meter" in _error(sign_config(KEY, other, 3, CONFIG))


def test_signed_garbage_payload_is_malformed_not_a_crash():
    from token_spec.config_blob import BLOB_PREFIX, _mac

    signed = BLOB_PREFIX + "bm90IGpzb24="  # base64 of "not json"
    assert "malformed" in _error(signed + "." + _mac(KEY, signed))


def test_sign_refuses_bad_arguments():
    for args in ((KEY, METER, 0, CONFIG), (KEY, METER, 1, [1]), (KEY, "1", 1, CONFIG)):
        assert isinstance(error_of(sign_config, *args), ValueError)
