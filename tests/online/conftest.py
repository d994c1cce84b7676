"""Fixtures of the station tests, for the online chain (a station on SQLite or PostgreSQL)."""

from tests.vending.conftest import db_url, fast_kdf, pg_server, station_env  # noqa: F401
