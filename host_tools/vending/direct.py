"""Core statements run straight on the DBAPI connection: the sale's hot path.

A vend runs a handful of statements, and on the 2-core station host SQLAlchemy's work per
execution (cache key, parameter and result processing, cursor description, Row objects) cost
more CPU than the database's own work. Here a statement is still built with Core from the one
schema (`db.py`), compiled once per dialect, and then sent as the driver's SQL text with plain
parameters on a cursor kept with the pooled connection; rows come back as named tuples. psycopg
still prepares a statement on the server after a few executions. Driver errors are re-raised
as SQLAlchemy's own exception classes, so `db.run_write` retries conflicts as for Core.
"""

from collections import namedtuple

from sqlalchemy import exc


class Statement:
    """A Core statement compiled once per dialect; `compile_kw` as for `statement.compile`
    (e.g. column_keys for an INSERT of given columns)."""

    def __init__(self, statement, **compile_kw):
        self.statement = statement
        self._compile_kw = compile_kw
        names = list(statement.exported_columns.keys())
        self.row = namedtuple("Row", names, rename=True)._make if names else None
        self._by_dialect = {}

    def bind(self, dialect, params):
        """(SQL text, parameters in the driver's style) for one execution."""
        compiled = self._by_dialect.get(dialect.name)
        if compiled is None:
            compiled = self._by_dialect[dialect.name] = self._compile(dialect)
        sql, constants, order = compiled
        values = {**constants, **params} if constants else params
        return sql, values if order is None else tuple(values[name] for name in order)

    def execute(self, cursor, dialect, params):
        sql, values = self.bind(dialect, params)
        if dialect.name == "postgresql":
            # Every statement here is on the hot path: a server-side prepared statement from
            # the first execution on (psycopg would wait for five).
            cursor.execute(sql, values, prepare=True)
        else:
            cursor.execute(sql, values)

    def _compile(self, dialect):
        compiled = self.statement.compile(dialect=dialect, **self._compile_kw)
        given = {name: None for name, bind in compiled.binds.items() if bind.required}
        given.update(dict.fromkeys(self._compile_kw.get("column_keys", ())))
        # What remains are Core literals (e.g. account == "carry_forward"): fixed values.
        constants = {
            name: value
            for name, value in compiled.construct_params(given).items()
            if name not in given
        }
        order = compiled.positiontup if dialect.paramstyle in ("qmark", "format") else None
        return compiled.string, constants, order


def send(conn, statement, params=None):
    """Execute `statement` in the transaction of `conn` (a Core Connection); returns the DBAPI
    cursor to read its rows from (before the next send on this connection)."""
    cursor = _cursor(conn)
    try:
        statement.execute(cursor, conn.dialect, params or {})
    except conn.dialect.loaded_dbapi.Error as error:
        raise _wrapped(
            conn, statement.bind(conn.dialect, params or {})[0], error, cursor
        ) from None
    return cursor


def send_many(conn, statement, rows):
    """Execute `statement` once per parameter dict in `rows` (executemany)."""
    if not rows:
        return
    binds = [statement.bind(conn.dialect, row) for row in rows]
    cursor = _cursor(conn)
    try:
        cursor.executemany(binds[0][0], [values for _, values in binds])
    except conn.dialect.loaded_dbapi.Error as error:
        raise _wrapped(conn, binds[0][0], error, cursor) from None


def rows(statement, cursor):
    """Every row of a sent statement, as named tuples."""
    return [statement.row(values) for values in cursor.fetchall()]


def first(statement, cursor):
    """The first row of a sent statement, or None."""
    values = cursor.fetchone()
    return None if values is None else statement.row(values)


def _cursor(conn):
    """One cursor per pooled DBAPI connection, reused (making one costs more than a lookup).
    The pool entry's `info` lives exactly as long as its DBAPI connection."""
    pooled = conn.connection
    cursor = pooled.info.get("direct_cursor")
    if cursor is None:
        cursor = pooled.info["direct_cursor"] = pooled.dbapi_connection.cursor()
    return cursor


def _wrapped(conn, sql, error, cursor):
    """The SQLAlchemy exception Core would have raised (IntegrityError, OperationalError...);
    a connection the driver reports broken is invalidated so the pool never hands it out again."""
    broken = conn.dialect.is_disconnect(error, conn.connection.dbapi_connection, cursor)
    if broken:
        conn.invalidate()
    return exc.DBAPIError.instance(
        sql,
        None,  # parameters can hold tokens: never in messages
        error,
        conn.dialect.loaded_dbapi.Error,
        connection_invalidated=broken,
        dialect=conn.dialect,
    )
