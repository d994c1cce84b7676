"""Signed configuration blobs (SPEC.md §9): configuration too large for a token.

Blob = "pc1." + base64(JSON {"meter", "counter", "config"}) + "." + hex HMAC-SHA256 over
"pc1." + base64 part, under a key derived from the decoder key. One ASCII line, no spaces.
The config dict's schema belongs to the meter core (docs/core.md); this module signs bytes.
"""

import binascii
import json

from token_spec.hmac_sha256 import equal_digests, hmac_sha256
from token_spec.meter_number import check_meter_number

BLOB_PREFIX = "pc1."
_LABEL = b"prepay-config-v1"
_MAC_HEX = 64


class ConfigBlobError(ValueError):
    """A config blob that is malformed, forged, for another meter, or a replay."""


def _mac(decoder_key, signed_text):
    # A separate key for blobs so a MAC can never be confused with any token computation.
    blob_key = hmac_sha256(decoder_key, _LABEL)
    return binascii.hexlify(hmac_sha256(blob_key, signed_text.encode())).decode()


def _parse_payload(encoded):
    # (meter, counter, config) or None; no exception chaining (MicroPython warns about it).
    try:
        payload = json.loads(binascii.a2b_base64(encoded))
        return payload["meter"], payload["counter"], payload["config"]
    except (ValueError, KeyError, TypeError, IndexError):
        return None


def sign_config(decoder_key, meter_number, counter, config):
    """The blob carrying `config` (a JSON-serialisable dict) for one meter at `counter` (> 0)."""
    if not isinstance(config, dict):
        raise ValueError("config must be a dict")
    if not isinstance(counter, int) or isinstance(counter, bool) or counter < 1:
        raise ValueError("config counter must be a positive integer")
    payload = {"meter": check_meter_number(meter_number), "counter": counter, "config": config}
    encoded = binascii.b2a_base64(json.dumps(payload).encode()).decode().strip()
    signed = BLOB_PREFIX + encoded
    return signed + "." + _mac(decoder_key, signed)


def verify_config(decoder_key, meter_number, blob, last_counter):
    """(counter, config) of an authentic blob for this meter newer than `last_counter`;
    ConfigBlobError saying what is wrong otherwise."""
    if not isinstance(blob, str) or not blob.startswith(BLOB_PREFIX):
        raise ConfigBlobError("not a prepay config blob (expected it to start with pc1.)")
    signed, _, mac = blob.strip().rpartition(".")
    if len(mac) != _MAC_HEX or len(signed) <= len(BLOB_PREFIX):
        raise ConfigBlobError("config blob is truncated or has no signature")
    if not equal_digests(mac.lower().encode(), _mac(decoder_key, signed).encode()):
        raise ConfigBlobError("config blob signature is invalid (forged, damaged or wrong key)")
    payload = _parse_payload(signed[len(BLOB_PREFIX) :])
    if payload is None:
        raise ConfigBlobError("config blob payload is malformed")
    meter, counter, config = payload
    if meter != check_meter_number(meter_number):
        raise ConfigBlobError("config blob is for meter %s, not this meter" % meter)
    if not isinstance(counter, int) or not isinstance(config, dict):
        raise ConfigBlobError("config blob payload is malformed")
    if counter <= last_counter:
        raise ConfigBlobError(
            "config blob counter %d is not above the last applied %d (replay)"
            % (counter, last_counter)
        )
    return counter, config
