"""The vending key at rest: scrypt + AES-GCM, wrong passphrase, no plaintext anywhere."""

import json
import os
import stat

import pytest

from host_tools.vending import StationError, keystore


def test_round_trip_with_the_real_kdf_cost(tmp_path):
    path = tmp_path / "vending.key"
    key = keystore.create_key_file(path, "s3cret quartz pass")
    assert len(key) == 32
    assert keystore.load_key_file(path, "s3cret quartz pass") == key
    doc = json.loads(path.read_text())
    assert doc["kdf"]["n"] == 2**15  # the cost used by `station init`
    raw = path.read_bytes()
    assert key not in raw and key.hex().encode() not in raw
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_wrong_passphrase_is_a_clear_error(tmp_path, fast_kdf):
    path = tmp_path / "vending.key"
    keystore.create_key_file(path, "Zq9-good-lantern-pass")
    with pytest.raises(StationError, match="wrong passphrase") as caught:
        keystore.load_key_file(path, "Xk7-bad-pass")
    assert "Zq9" not in str(caught.value) and "Xk7" not in str(caught.value)


def test_damaged_file_and_refusals(tmp_path, fast_kdf):
    path = tmp_path / "vending.key"
    key = keystore.create_key_file(path, "pw plum lantern quartz")
    with pytest.raises(StationError, match="refusing to overwrite"):
        keystore.create_key_file(path, "pw plum lantern quartz")
    doc = json.loads(path.read_text())
    sealed = bytearray(__import__("base64").b64decode(doc["ciphertext"]))
    sealed[0] ^= 1
    doc["ciphertext"] = __import__("base64").b64encode(bytes(sealed)).decode()
    path.write_text(json.dumps(doc))
    with pytest.raises(StationError) as caught:
        keystore.load_key_file(path, "pw")
    assert key.hex() not in str(caught.value)
    path.write_text("not json")
    with pytest.raises(StationError, match="unreadable"):
        keystore.load_key_file(path, "pw")
    with pytest.raises(StationError, match="missing"):
        keystore.load_key_file(tmp_path / "nope.key", "pw")
    with pytest.raises(StationError, match="empty"):
        keystore.create_key_file(tmp_path / "other.key", "")
