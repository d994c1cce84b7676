"""The vending station: keys, meter registry, tariffs, idempotent vend, ledger, reports, audit.

Modules (one concern each):
    home       station home directory and station.json
    keystore   the vending key, encrypted at rest (scrypt + AES-GCM)
    db         SQLAlchemy Core schema and the transaction runner (SQLite WAL / PostgreSQL)
    money      decimal strings <-> integer minor units
    registry   meters, tariffs, cashiers, arrears
    tariffs    money -> energy units (flat, inclining block), debt recovery split
    ledger     append-only double-entry journal with a hash chain
    vend       sales, reprints, reversals, management tokens, signed config
    reports    batch close (report day)
    audit      hash-chain and cross-table verification
    station    Station: opens home + key + database, the object the CLI uses
    scratch_pg a throw-away PostgreSQL cluster for tests and benchmarks
"""


class StationError(Exception):
    """A user-facing error: the message is one clear line and never contains a secret."""
