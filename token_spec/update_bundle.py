"""Signed firmware update bundles: made by the host (`prepay device bundle`), checked by the meter.

A bundle is one header line, a newline, then the payload bytes:

    "pu1." + base64(JSON {"meter", "version", "kind", "size", "sha256"}) + "." + hex HMAC

The HMAC-SHA256 covers "pu1." + the base64 part, under the meter's maintenance key
(token_spec.keys.derive_maintenance_key: per meter, for updates only). The header binds the
payload by its SHA-256, so the meter can check the header — signature, meter number, version
newer than its own, kind and size — before it writes anything, and check the payload's digest
before it switches to it. Kinds: "esp32-app" (an ESP32 app image for the OTA slot) and "mpy"
(a file archive of compiled modules: the simulator's slot).

The "mpy" archive is a sequence of files, each `path length u16 | path | size u32 | bytes`
(big-endian), so the meter can unpack it without holding it in memory.
"""

import binascii
import json
import struct

from token_spec.hmac_sha256 import equal_digests, hmac_sha256
from token_spec.meter_number import check_meter_number

HEADER_PREFIX = "pu1."
KINDS = ("esp32-app", "mpy")
MAX_HEADER = 600  # characters: the header travels in one protocol line
_MAC_HEX = 64


class BundleError(ValueError):
    """A bundle that is malformed, forged, for another meter, or not newer than the meter's."""


def parse_version(text):
    """(major, minor, patch) of "1.2.3"; BundleError unless three dot-separated integers."""
    parts = str(text).split(".")
    if len(parts) != 3:
        raise BundleError("version %r is not major.minor.patch" % (text,))
    try:
        out = tuple(int(p) for p in parts)
    except ValueError:
        raise BundleError("version %r is not major.minor.patch" % (text,)) from None
    for p in out:
        if p < 0 or p > 65535:
            raise BundleError("version %r is out of range" % (text,))
    return out


def _mac(key, signed):
    return binascii.hexlify(hmac_sha256(key, signed.encode())).decode()


def sign_header(key, meter_number, version, kind, payload_size, payload_sha256):
    """The header line (str, no newline) for a payload of `payload_size` bytes."""
    parse_version(version)
    if kind not in KINDS:
        raise BundleError("kind must be one of " + ", ".join(KINDS))
    info = {
        "meter": check_meter_number(meter_number),
        "version": version,
        "kind": kind,
        "size": payload_size,
        "sha256": binascii.hexlify(payload_sha256).decode(),
    }
    encoded = binascii.b2a_base64(json.dumps(info).encode()).decode().strip()
    signed = HEADER_PREFIX + encoded
    return signed + "." + _mac(key, signed)


def verify_header(key, meter_number, running_version, header):
    """The header's dict ("meter", "version", "kind", "size", "sha256" as bytes) if it is
    authentic, for this meter and strictly newer than `running_version`; else BundleError."""
    if not isinstance(header, str) or not header.startswith(HEADER_PREFIX):
        raise BundleError("not a prepay update bundle (expected it to start with pu1.)")
    if len(header) > MAX_HEADER:
        raise BundleError("bundle header longer than %d characters" % MAX_HEADER)
    signed, _, mac = header.strip().rpartition(".")
    if len(mac) != _MAC_HEX or len(signed) <= len(HEADER_PREFIX):
        raise BundleError("bundle header is truncated or has no signature")
    if not equal_digests(mac.lower().encode(), _mac(key, signed).encode()):
        raise BundleError("bundle signature is invalid (damaged, or signed for another meter)")
    info = _parse_info(signed[len(HEADER_PREFIX) :])
    if info is None:
        raise BundleError("bundle header is signed but unreadable")
    if info["meter"] != meter_number:
        raise BundleError("bundle is for meter %s, not this one" % info["meter"])
    if parse_version(info["version"]) <= parse_version(running_version):
        raise BundleError(
            "bundle version %s is not newer than the running %s"
            % (info["version"], running_version)
        )
    return info


def _parse_info(encoded):
    # The dict with sha256 as bytes, or None; no exception chaining (MicroPython warns).
    try:
        info = json.loads(binascii.a2b_base64(encoded))
        out = {
            "meter": info["meter"],
            "version": info["version"],
            "kind": info["kind"],
            "size": info["size"],
            "sha256": binascii.unhexlify(info["sha256"]),
        }
    except (ValueError, KeyError, TypeError, IndexError):
        return None
    if type(out["size"]) is not int or out["size"] < 1 or len(out["sha256"]) != 32:
        return None
    if out["kind"] not in KINDS or type(out["version"]) is not str:
        return None
    return out


def split_bundle(data):
    """(header str, payload bytes) of a bundle file's bytes; BundleError if it has no header."""
    nl = data.find(b"\n")
    if nl < 0 or not data.startswith(HEADER_PREFIX.encode()):
        raise BundleError("not a prepay update bundle (no pu1. header line)")
    try:
        header = data[:nl].decode()
    except UnicodeError:
        raise BundleError("bundle header is not text") from None
    return header, data[nl + 1 :]


# ---- the "mpy" payload: a file archive ---------------------------------------------------


def pack_files(files):
    """An archive of `files`, a list of (relative path str, bytes)."""
    out = []
    for path, data in files:
        name = path.encode()
        out.append(struct.pack(">H", len(name)) + name + struct.pack(">I", len(data)) + data)
    return b"".join(out)


def unpack_files(read):
    """Yield (path, size) then the caller reads `size` bytes with `read(n)`: iterate the
    archive `read` (a file's read method) returns, without loading it whole.

    Paths are relative, '/'-separated, without '..' or empty parts; BundleError otherwise or
    on a truncated archive."""
    while True:
        head = read(2)
        if not head:
            return
        if len(head) != 2:
            raise BundleError("archive is truncated")
        (n,) = struct.unpack(">H", head)
        name = read(n)
        size = read(4)
        if len(name) != n or len(size) != 4:
            raise BundleError("archive is truncated")
        path = name.decode()
        for part in path.split("/"):
            if part in ("", ".", ".."):
                raise BundleError("archive path %r is not allowed" % path)
        yield path, struct.unpack(">I", size)[0]
