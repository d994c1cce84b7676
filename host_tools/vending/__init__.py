"""The vending station: keys, meter registry, tariffs, idempotent vend, ledger, reports, audit.

Modules (one concern each):
    home       station home directory and station.json
    keystore   the vending key, encrypted at rest (scrypt + AES-GCM)
    station    Station: opens home + database, decrypts the key on demand; `station init`
    db         SQLAlchemy Core schema and the transaction runner (SQLite WAL / PostgreSQL)
    direct     Core statements compiled once and run on the DBAPI cursor (the sale's hot path)
    clock      the one clock read: UTC time, station-local date and month, TID
    money      decimal strings <-> integer minor units
    registry   meters, tariffs, cashiers, arrears balances
    limits     sanity bounds: tariff prices and charges, most kWh per sale, arrears caps
    arrears    arrears approval and corrections (adjust, write off, reverse) as new entries
    tariffs    money -> energy units (flat, inclining block), debt split, currency credit
    ledger     append-only double-entry journal with a hash chain
    vend       sales, receipts, reprints, reversals
    mgmt       management tokens, key change, signed config, raising arrears
    reports    batch close (report day)
    audit      hash-chain and cross-table verification
    render     rich tables and receipts for the terminal
    faults     numbered crash points for the kill test (inert in production)

Test and bench tooling (many vending clients, a throw-away PostgreSQL) is in tests/support/.
"""


class StationError(Exception):
    """A user-facing error: the message is one clear line and never contains a secret."""
