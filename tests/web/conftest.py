"""Fixtures for the web app: a station with users and API keys, an in-process client, and a
real `prepay serve` process (a server that cannot start FAILS the test, never skips it).

The PostgreSQL fixtures are the vending tests' own (tests/vending/conftest.py)."""

import os
import socket
import subprocess
import sys
import time
import warnings

import pytest
from argon2 import PasswordHasher

from host_tools.vending import apikeys, home, users
from tests.web.browser import Browser

with warnings.catch_warnings():  # Starlette's note that it will prefer httpx2 one day
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from tests.vending.conftest import PASSPHRASE, db_url, fast_kdf, pg_server, station_env
from tests.vending.vending_setup import make_station

__all__ = ["TestClient", "db_url", "fast_kdf", "pg_server", "station_env"]

PASSWORD = "counter password 1"
USERS = {"clerk": "cashier", "boss": "supervisor", "chief": "supervisor", "root": "admin"}


@pytest.fixture
def cheap_hashes(monkeypatch):
    """argon2id with small parameters (the real ones are argon2-cffi's defaults)."""
    monkeypatch.setattr(users, "hasher", PasswordHasher(time_cost=1, memory_cost=1024))


def add_users_and_keys(station):
    """The standard users (password PASSWORD), one API key per channel ({channel: key}) and a
    supervisor key of the mobile operator ("supervisor")."""
    stamp = station.stamp()
    keys = {}

    def work(conn):
        for name, role in USERS.items():
            users.add_user(conn, name, role, PASSWORD, stamp, 100_000_00)
        for channel in ("mobile", "card"):
            keys[channel] = apikeys.add_key(conn, channel, f"op-{channel}", stamp)[0]
        keys["supervisor"] = apikeys.add_key(conn, "mobile", "op-mobile", stamp, "supervisor")[0]

    station.write(work)
    return keys


@pytest.fixture
def web_station(tmp_path, db_url, fast_kdf, station_env, cheap_hashes):
    """(station, {channel: API key}) on SQLite and on PostgreSQL in turn."""
    station = make_station(tmp_path / "home", db_url)
    keys = add_users_and_keys(station)
    yield station, keys
    station.close()


@pytest.fixture
def sqlite_station(tmp_path, fast_kdf, station_env, cheap_hashes):
    station = make_station(tmp_path / "home")
    keys = add_users_and_keys(station)
    yield station, keys
    station.close()


@pytest.fixture
def client(sqlite_station):
    """Starlette's in-process client on the SQLite station's app (fast: no socket)."""
    from host_tools.web.app import create_app

    station, keys = sqlite_station
    with TestClient(create_app(station), base_url="http://station.test") as test_client:
        test_client.station, test_client.keys = station, keys
        yield test_client


def login(test_client, name, password=PASSWORD):
    """Log in through the form (with its CSRF cookie); returns the response."""
    page = test_client.get("/login")
    token = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    return test_client.post(
        "/login",
        data={"name": name, "password": password, "csrf": token, "next": "/meters"},
        follow_redirects=False,
    )


def csrf_of(html):
    return html.split('name="csrf" value="', 1)[1].split('"', 1)[0]


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    """`prepay serve` in its own process on a free port."""

    def __init__(self, home, log_path):
        self.home, self.log_path = home, log_path
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = None

    def start(self, timeout=60, rate_per_minute=1_000_000):
        # The load tests send hundreds of requests a second with one key: no rate limit there
        # (the limit itself is tested in test_security.py).
        config = home.read_config(self.home)
        config["api_rate_per_minute"] = rate_per_minute
        home.write_config(self.home, config)
        env = dict(os.environ, PREPAY_PASSPHRASE=PASSPHRASE)
        self.log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "host_tools.cli",
                "serve",
                "--home",
                str(self.home),
                "--port",
                str(self.port),
            ],  # fmt: skip
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.2)
        self.stop()
        log = open(self.log_path).read()[-2000:]
        pytest.fail(f"prepay serve did not start on port {self.port}:\n{log}")

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if getattr(self, "log", None):
            self.log.close()


@pytest.fixture
def live_server(tmp_path, web_station):
    """A real server on the web_station (SQLite and PostgreSQL in turn)."""
    station, keys = web_station
    server = LiveServer(station.home, tmp_path / "serve.log").start()
    server.station, server.keys = station, keys
    yield server
    server.stop()


@pytest.fixture
def live_sqlite_server(tmp_path, sqlite_station):
    station, keys = sqlite_station
    server = LiveServer(station.home, tmp_path / "serve.log").start()
    server.station, server.keys = station, keys
    yield server
    server.stop()


@pytest.fixture
def browser(live_sqlite_server, tmp_path):
    """Headless Chromium (tests/web/browser.py) on the live SQLite server."""
    opened = Browser(live_sqlite_server.url, tmp_path / "shots")
    yield opened
    opened.quit()
