"""`prepay station upgrade`: a schema-3 station with sales moves to the current schema on SQLite
and PostgreSQL in one transaction; the ledger, its hash chain and idempotent refs survive; a
newer schema is refused; a failing step changes nothing."""

import pytest
from click.testing import CliRunner
from sqlalchemy import inspect, text

from host_tools.cli import main
from host_tools.vending import StationError, audit, db, vend
from host_tools.vending.station import Station
from tests.vending.vending_setup import CURRENCY_METER, KWH_METER

NEW_TABLES = (
    "deliveries",  # schema 8 (dropped first: they point at txns)
    "readings",
    "meter_events",
    "meter_links",
    "sts_kct_sales",  # schema 7 (they point at meters and txns)
    "sts_keys",
    "sts_meters",
    "sessions",
    "login_failures",
    "api_keys",
    "day_closes",
    "cashups",
    "users",  # schema 4
    "arrears_closed",  # schema 5
    "notify_deliveries",
    "notify_outbox",
    "customer_contacts",  # schema 6
)
NEW_METER_COLUMNS = ("rated_amps", "max_sale_kwh")  # schema 5
NEW_METER_COLUMNS += ("carried", "totals_month", "month_units", "month_standing")  # schema 9
NEW_INDEXES = ("ix_txns_meter_kind_seq", "ix_tokens_txn_id", "ix_token_refs_txn_id")
NEW_INDEXES += ("ix_config_counters_txn_id",)  # with the running totals
NOW = db.SCHEMA_VERSION


def _as_schema_3(station):
    """The station's database as `station init` of schema 3 made it (what later schemas
    added dropped, the version set back)."""
    with station.engine.begin() as conn:
        for table in NEW_TABLES:
            conn.execute(text(f"DROP TABLE {table}"))
        for index in NEW_INDEXES:
            conn.execute(text(f"DROP INDEX {index}"))
        for column in NEW_METER_COLUMNS:
            conn.execute(text(f"ALTER TABLE meters DROP COLUMN {column}"))
        conn.execute(text("UPDATE station_meta SET value = '3' WHERE key = 'schema_version'"))


def _upgrade(home, code=0):
    result = CliRunner().invoke(main, ["station", "upgrade", "--home", str(home)])
    assert result.exit_code == code, result.output
    return result.output


def _tables(station):
    with station.engine.connect() as conn:
        return set(inspect(conn).get_table_names())


def test_a_schema_3_station_with_sales_upgrades_and_keeps_its_books(station):
    sold = [
        vend.sell(station, KWH_METER, "20", "UP-1", "cash", "clerk"),
        vend.sell(station, CURRENCY_METER, "15", "UP-2", "mobile", "clerk"),
    ]
    vend.reverse(station, sold[1]["receipt"], "wrong meter", "boss")
    home = station.home
    _as_schema_3(station)
    station.close()
    old = Station(home)
    with pytest.raises(
        StationError, match=f"version 3, this prepay uses {NOW}: run `prepay station"
    ):
        vend.find_receipt(old, sold[0]["receipt"])
    old.close()

    assert f"schema version 3 -> {NOW}: upgraded" in _upgrade(home)
    upgraded = Station(home)
    assert set(NEW_TABLES) <= _tables(upgraded)
    with upgraded.engine.connect() as conn:
        columns = {c["name"] for c in inspect(conn).get_columns("meters")}
    assert set(NEW_METER_COLUMNS) <= columns
    result = audit.verify(upgraded)
    assert result["ok"], result
    again = vend.sell(upgraded, KWH_METER, "20", "UP-1", "cash", "clerk")  # idempotent ref
    assert again["replayed"] and again["token"] == sold[0]["token"]
    with pytest.raises(StationError, match="already used"):
        vend.sell(upgraded, KWH_METER, "21", "UP-1", "cash", "clerk")
    assert vend.find_receipt(upgraded, sold[1]["receipt"])["reversed_by"] is not None
    upgraded.close()
    assert "already current" in _upgrade(home)


def test_a_newer_schema_is_refused_and_nothing_changes(station):
    newer = str(NOW + 1)
    with station.engine.begin() as conn:
        conn.execute(
            text("UPDATE station_meta SET value = :v WHERE key = 'schema_version'"), {"v": newer}
        )
    out = _upgrade(station.home, code=1)
    assert f"schema version {newer}, newer than this prepay's {NOW}" in out
    with station.engine.connect() as conn:
        assert conn.execute(text("SELECT value FROM station_meta WHERE key = "
                                 "'schema_version'")).scalar() == newer  # fmt: skip
    assert "alembic_version" not in _tables(station)


def test_a_failing_step_leaves_the_schema_3_database_as_it_was(station):
    _as_schema_3(station)
    with station.engine.begin() as conn:  # in the way of the last table the step creates
        conn.execute(text("CREATE TABLE cashups (x INTEGER)"))
    before = _tables(station)
    _upgrade(station.home, code=1)
    assert _tables(station) == before  # no users, sessions... half-made; no alembic_version
    with station.engine.connect() as conn:
        assert conn.execute(text("SELECT value FROM station_meta WHERE key = "
                                 "'schema_version'")).scalar() == "3"  # fmt: skip
    assert db.SCHEMA_VERSION == 9
