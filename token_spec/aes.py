"""AES-128 block encryption: the one adapter between token_spec and the platform's AES.

MicroPython has `cryptolib.aes(key, 1)` (ECB); CPython uses `cryptography`'s AES-ECB encryptor.
The choice is made once at import. Both objects are reused for every block of one key, which
is what makes FF1 cheap: building a cipher context costs far more than one block.
"""

try:
    import cryptolib

    def block_cipher(key):
        """Return a function block(16 bytes) -> 16 bytes encrypting under `key` (AES-ECB)."""
        _check_key(key)
        return cryptolib.aes(bytes(key), 1).encrypt

except ImportError:  # CPython
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    def block_cipher(key):
        """Return a function block(16 bytes) -> 16 bytes encrypting under `key` (AES-ECB)."""
        _check_key(key)
        return Cipher(algorithms.AES(bytes(key)), modes.ECB()).encryptor().update


def _check_key(key):
    if not isinstance(key, (bytes, bytearray)) or len(key) != 16:
        raise ValueError("AES-128 key must be 16 bytes")
