"""Fixtures for the vending station: a real PostgreSQL server (started once per session) and
fresh stations on SQLite and PostgreSQL."""

import itertools

import pytest

from host_tools.vending import keystore
from tests.support.cli_login import add_logins, log_in
from tests.support.scratch_pg import ScratchPostgres, ScratchUnavailable

PASSPHRASE = "correct horse battery staple"
_db_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def pg_server():
    """The throw-away cluster. A PostgreSQL that cannot start fails every test that needs it,
    saying why: a run without the real server must never pass by skipping."""
    server = ScratchPostgres()
    try:
        server.start()
    except ScratchUnavailable as error:
        pytest.fail(f"PostgreSQL could not be started for the tests: {error}", pytrace=False)
    yield server
    server.stop()


def new_pg_database(server):
    """A fresh, empty database on the session's server; returns its URL."""
    import psycopg

    name = f"t{next(_db_numbers)}"
    with psycopg.connect(server.url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return server.url.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request, tmp_path):
    """A database URL for one test, on each backend in turn."""
    if request.param == "sqlite":
        return None  # the station's default: SQLite (WAL) in its home
    return new_pg_database(request.getfixturevalue("pg_server"))


@pytest.fixture
def fast_kdf(monkeypatch):
    """Cheap scrypt for stations made by fixtures (the real cost is tested in test_keystore)."""
    monkeypatch.setattr(keystore, "SCRYPT_N", 2**10)


@pytest.fixture
def station_env(monkeypatch):
    monkeypatch.setenv("PREPAY_PASSPHRASE", PASSPHRASE)
    log_in(monkeypatch, PASSPHRASE)  # station init's first admin "admin"; the CLI acts as it
    monkeypatch.delenv("PREPAY_VEND_CRASH_AT", raising=False)


@pytest.fixture
def station(tmp_path, db_url, fast_kdf, station_env):
    """An initialised station with the standard tariffs, meters and cashiers (see setup), and
    the admin user the CLI logs in as."""
    from tests.vending.vending_setup import make_station

    opened = make_station(tmp_path / "home", db_url)
    add_logins(opened, PASSPHRASE, admin="admin")  # station_env's login: the CLI acts as it
    yield opened
    opened.close()
