"""Core statements run straight on the DBAPI cursor, for hot write paths.

SQLAlchemy's ``Connection.execute`` costs about 35 µs of Python per statement (execution
context, parameter processing, result object), several times what SQLite itself needs for a
one-row insert. On a path that runs a handful of small statements per transaction while
holding a lock (casting a ballot: SQLite's write lock from ``BEGIN IMMEDIATE`` to the
commit, PostgreSQL's audit-head row lock) that overhead is the critical section
(docs/performance.md, ``cast``). A :class:`Prepared` keeps what matters from the Core
statement — the SQL as the dialect compiles it and each column type's conversion of bound
values (e.g. SQLite's ``'YYYY-MM-DD HH:MM:SS.ffffff'`` UTC text for timestamps, the same as
rows written through the ORM) — and skips the rest. Results are not processed: use it only
for statements that return plain integers and strings, or nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.expression import Executable


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    order: tuple[str, ...] | None  # positional parameter names (SQLite ``?``), else named
    fixed: dict[str, Any]  # values the statement itself binds (``WHERE id = 1``)
    convert: tuple[tuple[str, Callable[[Any], Any]], ...]


class Prepared:
    """A Core statement compiled once per dialect, executed on the transaction's DBAPI cursor.

    Args:
        stmt: an INSERT, UPDATE, DELETE or SELECT (or ``text()``) whose parameters are named
            by bind name (an INSERT without ``.values()``: by column key).
        keys: the parameter names every execution passes (for an INSERT, the columns set).
    """

    def __init__(self, stmt: Executable, keys: Sequence[str]) -> None:
        self.stmt = stmt
        self.keys = tuple(keys)
        self._by_dialect: dict[str, _Compiled] = {}
        self._lock = threading.Lock()

    def _compiled(self, dialect: Dialect) -> _Compiled:
        done = self._by_dialect.get(dialect.name)
        if done is not None:
            return done
        with self._lock:
            compiled = self.stmt.compile(dialect=dialect, column_keys=list(self.keys))  # type: ignore[attr-defined]
            names = list(compiled.binds)
            fixed = {
                n: v
                for n, v in compiled.construct_params(dict.fromkeys(self.keys)).items()
                if n not in self.keys
            }
            convert = []
            for name in names:
                to_db = compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)
                if to_db is not None:
                    convert.append((name, to_db))
            order = tuple(compiled.positiontup) if compiled.positional else None
            done = _Compiled(str(compiled), order, fixed, tuple(convert))
            self._by_dialect[dialect.name] = done
        return done

    def _params(self, c: _Compiled, values: Mapping[str, Any]) -> Any:
        p = {**c.fixed, **values}
        for name, to_db in c.convert:
            value = p.get(name)
            if value is not None:
                p[name] = to_db(value)
        return tuple(p[n] for n in c.order) if c.order is not None else p

    def execute(self, conn: Connection, values: Mapping[str, Any]) -> Any:
        """Run once with ``values`` in ``conn``'s transaction.

        Args:
            conn: a connection inside a transaction (e.g. ``session.connection()``).
            values: one value per name in ``keys``.
        Returns:
            the DBAPI cursor (``fetchone()``/``fetchall()`` give plain tuples).
        Raises:
            sqlalchemy.exc.DBAPIError: its subclass for the driver's error, as
                ``Connection.execute`` raises it (e.g. ``IntegrityError``).
        """
        c = self._compiled(conn.dialect)
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        params = self._params(c, values)
        try:
            cursor.execute(c.sql, params)
        except conn.dialect.loaded_dbapi.Error as exc:
            raise _wrapped(conn, c.sql, params, exc, many=False) from exc
        return cursor

    def executemany(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run once per mapping in ``rows`` (one DBAPI ``executemany``) in ``conn``'s
        transaction.

        Raises:
            sqlalchemy.exc.DBAPIError: as :meth:`execute`.
        """
        c = self._compiled(conn.dialect)
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        params = [self._params(c, r) for r in rows]
        try:
            cursor.executemany(c.sql, params)
        except conn.dialect.loaded_dbapi.Error as exc:
            raise _wrapped(conn, c.sql, params, exc, many=True) from exc
        finally:
            cursor.close()


def _wrapped(conn: Connection, sql: str, params: Any, exc: Exception, *, many: bool) -> Exception:
    """The DBAPI error as SQLAlchemy raises it from ``Connection.execute`` (``IntegrityError``,
    ``OperationalError``, …), so callers catch one family of exceptions whatever the path."""
    return DBAPIError.instance(
        sql,
        params,
        exc,
        conn.dialect.loaded_dbapi.Error,
        dialect=conn.dialect,
        ismulti=many,
    )
