"""Decoder keys: derivation from the vending key, and the key-check value (SPEC.md §4)."""

from token_spec.aes import block_cipher

DERIVATION_LABEL = b"prepay-decoder-v1"
# The maintenance key signs firmware update bundles for one meter (token_spec/update_bundle.py);
# its own label keeps it unrelated to the decoder key, so neither can be computed from the other.
MAINTENANCE_LABEL = b"prepay-maintenance-v1"
VENDING_KEY_BYTES = 32
DECODER_KEY_BYTES = 16


def derive_decoder_key(vending_key, meter_number, key_revision):
    """Decoder key = HMAC-SHA256(vending key, label || meter number || revision byte)[:16]."""
    return _derive(DERIVATION_LABEL, vending_key, meter_number, key_revision)


def derive_maintenance_key(vending_key, meter_number, key_revision):
    """Maintenance key = HMAC-SHA256(vending key, maintenance label || meter number ||
    revision byte)[:16]: signs this meter's firmware updates and nothing else."""
    return _derive(MAINTENANCE_LABEL, vending_key, meter_number, key_revision)


def _derive(label, vending_key, meter_number, key_revision):
    # Imported here: only the host derives keys; the meter needs key_check_value alone.
    from token_spec.hmac_sha256 import hmac_sha256
    from token_spec.meter_number import check_meter_number

    if not isinstance(vending_key, (bytes, bytearray)) or len(vending_key) != VENDING_KEY_BYTES:
        raise ValueError("vending key must be 32 bytes")
    if not isinstance(key_revision, int) or not 0 <= key_revision <= 255:
        raise ValueError("key revision must be 0..255")
    message = label + check_meter_number(meter_number).encode() + bytes([key_revision])
    return hmac_sha256(vending_key, message)[:DECODER_KEY_BYTES]


def key_check_value(key):
    """First 3 bytes of AES-128(key, zero block), as an int (24 bits)."""
    return int.from_bytes(block_cipher(key)(bytes(16))[:3], "big")
