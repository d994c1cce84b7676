"""Update bundles (token_spec/update_bundle.py) and the maintenance key, on both interpreters:
what the meter accepts, everything it refuses, and the file archive of an mpy payload."""

import binascii
import hashlib
import io

from support import raises

from token_spec.keys import derive_decoder_key, derive_maintenance_key
from token_spec.update_bundle import (
    BundleError,
    pack_files,
    parse_version,
    sign_header,
    split_bundle,
    unpack_files,
    verify_header,
)

VENDING = bytes(range(32))
METER = "12345678903"
OTHER = "12345678911"
KEY = derive_maintenance_key(VENDING, METER, 1)
PAYLOAD = b"new firmware" * 100
DIGEST = hashlib.sha256(PAYLOAD).digest()


def _header(key=KEY, meter=METER, version="0.2.0", kind="mpy"):
    return sign_header(key, meter, version, kind, len(PAYLOAD), DIGEST)


def test_maintenance_key_is_per_meter_and_unrelated_to_the_decoder_key():
    assert len(KEY) == 16
    assert KEY != derive_decoder_key(VENDING, METER, 1)
    assert KEY != derive_maintenance_key(VENDING, OTHER, 1)
    assert KEY != derive_maintenance_key(VENDING, METER, 2)
    # HMAC-SHA256(vending key, label || meter number || revision)[:16], written out
    from token_spec.hmac_sha256 import hmac_sha256

    assert KEY == hmac_sha256(VENDING, b"prepay-maintenance-v1" + METER.encode() + b"\x01")[:16]


def test_a_good_header_is_accepted_with_its_fields():
    info = verify_header(KEY, METER, "0.1.0", _header())
    assert info["meter"] == METER and info["version"] == "0.2.0" and info["kind"] == "mpy"
    assert info["size"] == len(PAYLOAD) and info["sha256"] == DIGEST
    assert verify_header(KEY, METER, "0.1.9", _header(version="1.0.0"))["version"] == "1.0.0"
    assert verify_header(KEY, METER, "0.9.0", _header(version="0.10.0"))["version"] == "0.10.0"


def test_every_changed_character_of_the_header_is_refused():
    header = _header()
    alphabet = "0123456789abcdefABCDEF=+/."
    for i in range(len(header)):
        c = header[i]
        changed = header[:i] + alphabet[(alphabet.find(c) + 1) % len(alphabet)] + header[i + 1 :]
        if changed == header:
            continue
        err = raises(BundleError, verify_header, KEY, METER, "0.1.0", changed)
        assert "signature" in str(err) or "pu1" in str(err) or "truncated" in str(err), str(err)


def test_other_meter_wrong_key_and_old_versions_are_refused():
    other = derive_maintenance_key(VENDING, OTHER, 1)
    err = raises(BundleError, verify_header, KEY, METER, "0.1.0", _header(key=other, meter=OTHER))
    assert "signature" in str(err)  # signed with the other meter's key
    # signed with our key but naming another meter (a station bug): still refused
    err = raises(BundleError, verify_header, KEY, METER, "0.1.0", _header(meter=OTHER))
    assert "for meter 12345678911" in str(err)
    for version in ("0.1.0", "0.0.9", "0.0.10"):
        err = raises(BundleError, verify_header, KEY, METER, "0.1.0", _header(version=version))
        assert "not newer than the running 0.1.0" in str(err)
    assert "start with pu1." in str(raises(BundleError, verify_header, KEY, METER, "0.1.0", "x"))
    assert "longer than" in str(
        raises(BundleError, verify_header, KEY, METER, "0.1.0", "pu1." + "A" * 700)
    )


def test_versions_are_three_numbers():
    assert parse_version("1.2.3") == (1, 2, 3)
    for bad in ("1.2", "1.2.3.4", "a.b.c", "1.-2.3", "1.2.99999"):
        raises(BundleError, parse_version, bad)
    raises(BundleError, sign_header, KEY, METER, "1.2", "mpy", 10, DIGEST)
    raises(BundleError, sign_header, KEY, METER, "1.2.3", "exe", 10, DIGEST)


def test_split_bundle_and_archive_round_trip():
    files = [("firmware/main.mpy", b"\x4d\x06" + bytes(300)), ("token_spec/a.mpy", b"")]
    archive = pack_files(files)
    bundle = _header().encode() + b"\n" + archive
    header, payload = split_bundle(bundle)
    assert header == _header() and payload == archive
    stream = io.BytesIO(archive)
    out = []
    for path, size in unpack_files(stream.read):
        out.append((path, stream.read(size)))
    assert out == files
    raises(BundleError, split_bundle, b"no header")


def test_archive_refuses_escaping_paths_and_truncation():
    for bad in ("../boot.py", "/main.py", "a//b", "a/./b"):
        read = io.BytesIO(pack_files([(bad, b"x")])).read
        raises(BundleError, lambda r=read: list(unpack_files(r)))
    cut = io.BytesIO(pack_files([("firmware/x.mpy", b"abc")])[:5])
    raises(BundleError, lambda: list(unpack_files(cut.read)))


def test_header_sha256_is_hex_of_the_digest():
    encoded = _header()[4:].rsplit(".", 1)[0]
    assert binascii.hexlify(DIGEST).decode() in binascii.a2b_base64(encoded).decode()
