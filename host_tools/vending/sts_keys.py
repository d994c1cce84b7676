"""The station's STS vending keys: one per DKGA, sealed in the home like the v1 vending key.

DKGA02 takes a 64-bit vending key, DKGA04 a 160-bit one (STS.md §3.1); a station that runs a
TID rollover (DKGA02 -> DKGA04) holds both. Each lives in `sts-vk-02.key` / `sts-vk-04.key`
in the station home, encrypted with the station passphrase (scrypt + AES-GCM, keystore.py)
under its own file format, so a v1 key file cannot be loaded as an STS key or the reverse.
The database holds only each key's fingerprint, so stations sharing a database cannot mix
keys. Keys enter by `prepay station sts-key import --dkga 02 --key-file FILE` (a utility's
key, read from a file, never from the command line) or `... generate` (a fresh random key,
for a utility starting its own supply group); no verb ever prints a key.
"""

import secrets
from pathlib import Path

from sqlalchemy import select

from host_tools.vending import StationError, db, keystore
from host_tools.vending.station import _passphrase

SIZES = {2: 8, 4: 20}
FORMAT = "prepay-sts-vending-key-v1"


def check_dkga(dkga):
    if dkga not in SIZES:
        raise StationError("--dkga must be 02 or 04 (DKGA01 is not public, DKGA03 is deprecated)")
    return dkga


def key_path(station, dkga):
    return Path(station.home) / f"sts-vk-{check_dkga(dkga):02d}.key"


def _meta_name(dkga):
    return f"sts_vk{dkga:02d}_fingerprint"


def _bind(station, dkga, key, first):
    """Record the key's fingerprint (first=True) or check it against the recorded one."""
    fingerprint = keystore.key_fingerprint(key)
    meta = db.station_meta

    def work(conn):
        stored = conn.execute(select(meta.c.value).where(meta.c.key == _meta_name(dkga))).scalar()
        if stored is None and first:
            conn.execute(meta.insert().values(key=_meta_name(dkga), value=fingerprint))
        elif stored is not None and stored != fingerprint:
            raise StationError(
                f"the DKGA{dkga:02d} STS vending key does not belong to this station's database"
            )

    # Checking only reads: a sale calls this inside its own write transaction, and a second
    # writer there would wait for the first one forever (SQLite) or deadlock.
    (station.write if first else station.read)(work)


def read_hex_file(path, dkga):
    """A key from a file of hex digits (whitespace allowed); errors never echo the contents."""
    try:
        with open(path, encoding="ascii", errors="replace") as handle:
            text = handle.read(4096)
    except OSError as exc:
        raise StationError(f"cannot read key file {path}: {exc.strerror or 'error'}") from None
    try:
        key = bytes.fromhex("".join(text.split()))
    except ValueError:
        key = b""
    size = SIZES[check_dkga(dkga)]
    if len(key) != size:
        raise StationError(
            f"key file {path} must hold a DKGA{dkga:02d} vending key of {size} bytes "
            f"({2 * size} hex digits)"
        )
    return key


def store(station, dkga, key):
    """Seal `key` as the station's DKGA key (never overwriting one) and record its fingerprint."""
    path = key_path(station, dkga)
    if path.exists():
        raise StationError(f"{path} already exists: refusing to overwrite an STS vending key")
    keystore.seal_key_file(path, _passphrase(station._prompt), key, FORMAT)
    try:
        _bind(station, dkga, key, first=True)
    except Exception:
        path.unlink()  # a key the database refuses is not kept
        raise
    _cache(station)[dkga] = key
    return {"dkga": f"{dkga:02d}", "file": str(path), "fingerprint": keystore.key_fingerprint(key)}


def generate(station, dkga):
    return store(station, dkga, secrets.token_bytes(SIZES[check_dkga(dkga)]))


def _cache(station):
    # Decrypted keys live only in the opened station's memory, like Station.key.
    return station.__dict__.setdefault("_sts_vending_keys", {})


def vending_key(station, dkga):
    """The decrypted DKGA02/DKGA04 vending key, or a clear error naming the verb to add it."""
    cache = _cache(station)
    if dkga not in cache:
        path = key_path(station, dkga)
        if not path.exists():
            raise StationError(
                f"this station has no DKGA{dkga:02d} STS vending key: add one with "
                f"`prepay station sts-key import --dkga {dkga:02d} --key-file FILE` (or generate)"
            )
        key = keystore.load_key_file(path, _passphrase(station._prompt), FORMAT, (SIZES[dkga],))
        _bind(station, dkga, key, first=False)
        cache[dkga] = key
    return cache[dkga]


def describe(station):
    """Which STS vending keys the station holds (fingerprints only)."""
    out = []
    for dkga in sorted(SIZES):
        path = key_path(station, dkga)
        out.append({"dkga": f"{dkga:02d}", "file": str(path), "present": path.exists()})
    return out
