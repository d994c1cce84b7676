"""Station: the home directory, its database and (on demand) the decrypted vending key."""

import os
from pathlib import Path

from sqlalchemy import exc, select

from host_tools.vending import StationError, db, home, keystore, limits, registry
from host_tools.vending.clock import Stamp, zone
from token_spec import derive_decoder_key

PASSPHRASE_ENV = "PREPAY_PASSPHRASE"
DECODER_KEY_CACHE = 100_000  # meters whose decoder keys one process keeps (~20 MB at most)


def _passphrase(prompt, confirm=False):
    if os.environ.get(PASSPHRASE_ENV):
        return os.environ[PASSPHRASE_ENV]
    if prompt is None:
        raise StationError(f"no passphrase: set {PASSPHRASE_ENV} or run interactively")
    return prompt(confirm)


def init_station(home_dir=None, db_url=None, prompt=None, key_from=None):
    """`prepay station init`: key file, station.json and schema. Returns (home, url).

    `key_from`: another station's key file, for a second station on a shared database (the
    passphrase must open it; the encrypted file is copied, the key is never re-written)."""
    root = home.resolve_home(home_dir)
    if (root / home.CONFIG_NAME).exists():
        raise StationError(f"{root} already holds a station (station.json exists)")
    url = db.normalise_url(db_url or home.default_db_url(root))
    # The passphrase first: a missing or weak one must leave nothing behind (no station.db).
    passphrase = _passphrase(prompt, confirm=key_from is None)
    if key_from is None:
        keystore.check_passphrase(passphrase)
    if url.startswith("sqlite"):
        root.mkdir(parents=True, exist_ok=True, mode=0o700)
    engine = _engine(url)  # before any file is written: a bad URL leaves nothing behind
    try:
        with engine.connect():
            pass
    except exc.SQLAlchemyError as error:
        raise db.connect_error(url, error) from None
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    if key_from is not None:
        key = keystore.copy_key_file(key_from, root / home.KEY_NAME, passphrase)
    else:
        key = keystore.create_key_file(root / home.KEY_NAME, passphrase)
    try:
        db.create_schema(engine)
        _bind_key(engine, keystore.key_fingerprint(key))
    except exc.SQLAlchemyError as error:
        (root / home.KEY_NAME).unlink()
        raise db.connect_error(url, error) from None
    except StationError:
        (root / home.KEY_NAME).unlink()
        raise
    config = dict(home.DEFAULTS)
    config["db_url"] = url
    home.write_config(root, config)
    return root, url


def _engine(url):
    try:
        return db.make_engine(url)
    except (exc.ArgumentError, ImportError, ValueError) as error:
        raise StationError(f"cannot use database {db.redact(url)}: {error}") from None


def _bind_key(engine, fingerprint):
    """Record the key's fingerprint; a DB shared by stations must be used with one key."""

    def work(conn):
        meta = db.station_meta
        row = conn.execute(select(meta.c.value).where(meta.c.key == "key_fingerprint")).first()
        if row is None:
            conn.execute(meta.insert().values(key="key_fingerprint", value=fingerprint))
        elif row.value != fingerprint:
            raise StationError(
                "this database belongs to a station with a different vending key: "
                "copy that station's key file instead of creating a new key"
            )

    db.run_write(engine, work)


class Station:
    """An opened station. The key is decrypted only when something needs it."""

    def __init__(self, home_dir=None, prompt=None):
        self.home = home.resolve_home(home_dir)
        self.config = home.read_config(self.home)
        self.tz = zone(self.config["timezone"])
        self.limits = limits.Limits(self.config.get("limits"))
        self.url = db.normalise_url(self.config.get("db_url", ""))
        self.engine = _engine(self.url)
        self._prompt = prompt
        self._key = None
        self._tariffs = {}
        self._decoder_keys = {}
        self._schema_checked = False

    def use_database(self, db_url):
        """Use another database than station.json's (`prepay serve --db URL`)."""
        self.engine.dispose()
        self.url = db.normalise_url(db_url)
        self.engine = _engine(self.url)
        self._schema_checked = False

    def tariff(self, conn, name):
        """A tariff by name, cached: tariffs are never edited (a change is a new tariff)."""
        if name not in self._tariffs:
            self._tariffs[name] = registry.get_tariff(conn, name)
        return self._tariffs[name]

    @property
    def key(self):
        if self._key is None:
            path = Path(self.home) / home.KEY_NAME
            key = keystore.load_key_file(path, _passphrase(self._prompt))
            self._check_fingerprint(keystore.key_fingerprint(key))
            self._key = key
        return self._key

    def _check_fingerprint(self, fingerprint):
        def work(conn):
            meta = db.station_meta
            return conn.execute(
                select(meta.c.value).where(meta.c.key == "key_fingerprint")
            ).scalar()

        stored = self.read(work)
        if stored is not None and stored != fingerprint:
            raise StationError("the vending key does not belong to this station's database")

    def decoder_key(self, meter, revision, vending_key=None):
        """The meter's decoder key for a key revision (derived, never stored in the database).

        Kept in this process's memory beside the vending key it comes from (the derivation is
        pure-Python HMAC, a tenth of a vend's client time); bounded so a long-running station
        does not grow without limit."""
        vending_key = vending_key or self.key
        cache_key = (meter, revision, vending_key)
        key = self._decoder_keys.get(cache_key)
        if key is None:
            if len(self._decoder_keys) >= DECODER_KEY_CACHE:
                self._decoder_keys.clear()
            key = self._decoder_keys[cache_key] = derive_decoder_key(vending_key, meter, revision)
        return key

    def stamp(self, now=None):
        return Stamp(self.tz, now)

    def read(self, work):
        """Run `work(conn)` in a read transaction; DB trouble is a one-line StationError."""
        return self._run(db.run_read, work)

    def write(self, work, optimistic=False):
        """Run `work(conn)` in a retried write transaction (see db.run_write)."""
        return self._run(db.run_write, work, optimistic=optimistic)

    def _run(self, runner, work, **options):
        try:
            if not self._schema_checked:
                db.run_read(self.engine, db.check_schema)
                self._schema_checked = True
            return runner(self.engine, work, **options)
        except exc.OperationalError as error:
            raise db.connect_error(self.url, error) from None

    def close(self):
        self.engine.dispose()
