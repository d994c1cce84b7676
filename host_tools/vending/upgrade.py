"""`prepay station upgrade`: move a station's database from an earlier schema to this prepay's,
with Alembic, in one transaction (SQLite and PostgreSQL both have transactional DDL: a failed
step leaves the database as it was).

The schema version in `station_meta` stays the source of truth; Alembic revision `sN` is schema
N. A database made by `station init` of an older prepay has no alembic_version table: it is
stamped with its schema's revision first. A newer schema than this prepay's is refused.
"""

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import inspect, select, update

from host_tools.vending import StationError, db

OLDEST = 3  # the oldest schema with a migration path (s3_baseline)
MIGRATIONS = Path(__file__).parent / "migrations"


def _version(conn):
    value = conn.execute(
        select(db.station_meta.c.value).where(db.station_meta.c.key == "schema_version")
    ).scalar()
    if value is None or not value.isdigit():
        raise StationError("the database has no prepay schema version: not a prepay station")
    return int(value)


def _config(conn):
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = conn
    return config


def upgrade(station):
    """Upgrade; returns (from version, to version)."""

    def work(conn):
        found = _version(conn)
        if found > db.SCHEMA_VERSION:
            raise StationError(
                f"the database has prepay schema version {found}, newer than this prepay's "
                f"{db.SCHEMA_VERSION}: install the newer prepay (nothing was changed)"
            )
        if found < OLDEST:
            raise StationError(
                f"schema version {found} is older than {OLDEST}, the oldest this prepay upgrades"
            )
        if found == db.SCHEMA_VERSION:
            return found, found
        config = _config(conn)
        if not inspect(conn).has_table("alembic_version"):
            command.stamp(config, f"s{found}")
        command.upgrade(config, "head")  # one chain: its head is this schema
        conn.execute(
            update(db.station_meta)
            .where(db.station_meta.c.key == "schema_version")
            .values(value=str(db.SCHEMA_VERSION))
        )
        return found, db.SCHEMA_VERSION

    return db.run_write(station.engine, work, attempts=1)
