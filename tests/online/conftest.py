"""Fixtures of the station and customer-message tests, for the online chain: a station on
SQLite or PostgreSQL, a real SMTP server and an HTTP SMS gateway; cheap password hashes for
the web app's users."""

from tests.notify.conftest import sms_gateway, smtp_server  # noqa: F401
from tests.vending.conftest import db_url, fast_kdf, pg_server, station, station_env  # noqa: F401
from tests.web.conftest import cheap_hashes  # noqa: F401
