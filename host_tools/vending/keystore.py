"""The station's 256-bit vending key, encrypted at rest with a passphrase (scrypt + AES-GCM).

The key only ever exists in memory. Errors name the file, never the key or the passphrase.
"""

import base64
import json
import os
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from host_tools.vending import StationError

KEY_BYTES = 32
FORMAT = "prepay-vending-key-v1"
# scrypt cost: ~0.1 s and 32 MiB on a laptop; stored in the file so it can be raised later.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1


# A new vending key's passphrase: at least this long and a zxcvbn score of at least
# PASSPHRASE_SCORE (0..4; 3 = "safely unguessable", about 10**10 guesses), so a
# one-letter or a very common passphrase is refused; docs/station.md says why.
PASSPHRASE_MIN_LENGTH = 12
PASSPHRASE_SCORE = 3


def check_passphrase(passphrase):
    """Refuse a weak passphrase for a new key: one line that never repeats it."""
    if not passphrase:
        raise StationError("the passphrase must not be empty")
    if len(passphrase) < PASSPHRASE_MIN_LENGTH:
        raise StationError(
            f"the passphrase has {len(passphrase)} characters: use at least "
            f"{PASSPHRASE_MIN_LENGTH} (a few uncommon words)"
        )
    from zxcvbn import zxcvbn

    found = zxcvbn(passphrase[:100])  # zxcvbn slows down on long input; 100 is plenty
    if found["score"] < PASSPHRASE_SCORE:
        why = found["feedback"]["warning"] or "easy to guess"
        raise StationError(
            f"the passphrase is too weak (strength {found['score']} of 4, need "
            f"{PASSPHRASE_SCORE}): {why.rstrip('.')}; add a few uncommon words"
        )
    return passphrase


def _kek(passphrase, salt, n, r, p):
    kdf = Scrypt(salt=salt, length=32, n=n, r=r, p=p)
    return kdf.derive(passphrase.encode("utf-8"))


def _b64(data):
    return base64.b64encode(data).decode("ascii")


def create_key_file(path, passphrase):
    """Generate a fresh vending key, write it encrypted to `path` (mode 0600), return the key."""
    return seal_key_file(path, passphrase, secrets.token_bytes(KEY_BYTES))


def seal_key_file(path, passphrase, key, file_format=FORMAT):
    """Write `key` encrypted to `path` (mode 0600, never overwriting); returns the key.

    `file_format` names the kind of key (also the AES-GCM associated data), so one kind of
    key file cannot be loaded as another (the STS vending keys use their own, sts_keys.py)."""
    check_passphrase(passphrase)
    if os.path.exists(path):
        raise StationError(f"{path} already exists: refusing to overwrite a vending key")
    salt, nonce = secrets.token_bytes(16), secrets.token_bytes(12)
    kek = _kek(passphrase, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    sealed = AESGCM(kek).encrypt(nonce, key, file_format.encode())
    doc = {
        "format": file_format,
        "kdf": {"name": "scrypt", "n": SCRYPT_N, "r": SCRYPT_R, "p": SCRYPT_P, "salt": _b64(salt)},
        "cipher": "AES-256-GCM",
        "nonce": _b64(nonce),
        "ciphertext": _b64(sealed),
    }
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(doc, out, indent=2)
        out.write("\n")
    return key


def load_key_file(path, passphrase, file_format=FORMAT, sizes=(KEY_BYTES,)):
    """Decrypt the vending key; a wrong passphrase or a damaged file is a clear error."""
    try:
        with open(path) as src:
            doc = json.load(src)
        kdf = doc["kdf"]
        salt = base64.b64decode(kdf["salt"])
        nonce = base64.b64decode(doc["nonce"])
        sealed = base64.b64decode(doc["ciphertext"])
        if doc.get("format") != file_format or kdf.get("name") != "scrypt":
            raise ValueError("unknown format")
        kek = _kek(passphrase or "", salt, int(kdf["n"]), int(kdf["r"]), int(kdf["p"]))
    except FileNotFoundError:
        raise StationError(f"vending key file {path} is missing") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise StationError(
            f"vending key file {path} is unreadable ({type(exc).__name__})"
        ) from None
    try:
        key = AESGCM(kek).decrypt(nonce, sealed, file_format.encode())
    except InvalidTag:
        raise StationError(f"wrong passphrase for the vending key in {path}") from None
    if len(key) not in sizes:
        raise StationError(f"vending key file {path} holds a key of the wrong size")
    return key


def copy_key_file(source, path, passphrase):
    """Copy another station's sealed key file to `path` after checking the passphrase opens it."""
    key = load_key_file(source, passphrase)
    if os.path.exists(path):
        raise StationError(f"{path} already exists: refusing to overwrite a vending key")
    with open(source, "rb") as src:
        sealed = src.read()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(sealed)
    return key


def key_fingerprint(key):
    """A public identifier of the key (stored in the DB so two stations cannot mix keys)."""
    import hashlib
    import hmac

    return hmac.new(key, b"prepay station key fingerprint", hashlib.sha256).hexdigest()[:16]
