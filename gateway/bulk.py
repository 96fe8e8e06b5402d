"""A batch's rows, for many tables, written in one statement: how the ingest writes a batch.

On PostgreSQL each column's values travel as one array, which ``unnest`` turns back into rows, and the
tables' inserts and updates are the CTEs of one statement: one round trip per batch, whatever its
size, and a handful of statement texts that asyncpg prepares once per connection. SQLAlchemy's
``executemany`` sends the rows one at a time, a message each, with the client's work per row (50
Stripe events: 1.7 ms of the server's time, against 1.2 ms in one statement). Rows as one JSON text
(``json_to_recordset``) cost the server nearly twice the arrays' time.

SQLite runs in process, where ``executemany`` is one call into C, so there each table keeps its own;
the rows go to it as tuples, converted by the columns' own bind processors, one column at a time.
SQLAlchemy's ``executemany`` builds a parameter dict per row and converts value by value: the
ingest's write step took 44 us an event that way, 34 this way (in process, batches of 50).
"""

import functools
import json
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    Connection,
    Select,
    Table,
    TableValuedAlias,
    Text,
    bindparam,
    cast,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect

Row = dict[str, Any]
#: One table and rows for it (the same keys in each).
TableRows = tuple[Table, Sequence[Row]]
Processor = Callable[[Any], Any]
#: The key of a row to update: the primary key (``id``) of the row it changes.
PK = "_pk"


def write_rows(
    connection: Connection, *, inserts: Sequence[TableRows] = (), updates: Sequence[TableRows] = ()
) -> None:
    """Insert and update rows of several tables; an update finds its row by ``id`` = its :data:`PK`.

    Columns an insert leaves out take their defaults. A callable default is called once per batch,
    so values that must differ by row (IDs) are given.
    """
    inserts = [(table, _with_defaults(table, rows)) for table, rows in inserts if rows]
    updates = [(table, rows) for table, rows in updates if rows]
    if not is_postgres(connection):
        _write_sqlite(connection, [(table, rows, False) for table, rows in inserts])
        _write_sqlite(connection, [(table, rows, True) for table, rows in updates])
        return
    if not inserts and not updates:
        return
    parts = tuple((table, tuple(rows[0]), False) for table, rows in inserts)
    parts += tuple((table, tuple(rows[0]), True) for table, rows in updates)
    arrays: dict[str, list[Any]] = {}
    for n, (table, rows) in enumerate([*inserts, *updates]):
        arrays |= arrays_of(table, rows, prefix=f"p{n}_")
    connection.execute(_statement(parts), arrays)


def _write_sqlite(connection: Connection, parts: Sequence[tuple[Table, Sequence[Row], bool]]) -> None:
    """One ``executemany`` per (table, rows, whether an update), its values converted column by column."""
    for table, rows, is_update in parts:
        sql, order = _sqlite_statement(connection.dialect, table, tuple(rows[0]), is_update=is_update)
        columns = [
            _converted(process, [row[name] for row in rows]) if process else [row[name] for row in rows]
            for name, process in order
        ]
        connection.exec_driver_sql(sql, list(zip(*columns, strict=True)))


def is_postgres(connection: Connection) -> bool:
    """Whether ``connection`` is to PostgreSQL (arrays and ``unnest`` are there)."""
    return connection.dialect.name == "postgresql"


def arrays_of(table: Table, rows: Sequence[Row], *, prefix: str) -> dict[str, list[Any]]:
    """The parameters of :func:`unnested` for ``rows``: a list of values per column."""
    arrays: dict[str, list[Any]] = {}
    for name in rows[0]:
        values = [row[name] for row in rows]
        arrays[prefix + name] = [json.dumps(value) for value in values] if _is_json(table, name) else values
    return arrays


def unnested(table: Table, names: Sequence[str], *, prefix: str) -> TableValuedAlias:
    """``unnest`` of array parameters ``prefix + name``, typed as ``table``'s columns (:data:`PK`: ``id``).

    JSON travels as text: in an array of JSON, a JSON list would read as one more dimension.
    """
    arrays = (bindparam(prefix + name, type_=postgresql.ARRAY(_element_type(table, name))) for name in names)
    return func.unnest(*arrays).table_valued(*names).render_derived()


def value_of(table: Table, rows: TableValuedAlias, name: str) -> ColumnElement[Any]:
    """Column ``name`` of :func:`unnested` ``rows``, as ``table``'s column type."""
    return cast(rows.c[name], table.c[name].type) if _is_json(table, name) else rows.c[name]


_UNSET = object()


def _converted(process: Processor, values: list[Any]) -> list[Any]:
    """``values`` through ``process``, once per run of the same object (a batch shares its ``now``)."""
    converted: list[Any] = []
    last: Any = _UNSET
    result = None
    for value in values:
        if value is not last:
            last, result = value, process(value)
        converted.append(result)
    return converted


@functools.lru_cache(maxsize=256)
def _sqlite_statement(
    dialect: Dialect, table: Table, names: tuple[str, ...], *, is_update: bool
) -> tuple[str, list[tuple[str, Processor | None]]]:
    """SQLite: the ``INSERT`` (or ``UPDATE ... WHERE id =``) of ``names``; its parameters, converters."""
    if is_update:
        statement: Any = update(table).where(table.c.id == bindparam(PK))
        compiled = statement.compile(dialect=dialect, column_keys=[name for name in names if name != PK])
    else:
        compiled = insert(table).compile(dialect=dialect, column_keys=list(names))
    order: list[tuple[str, Processor | None]] = [
        (name, table.c["id" if name == PK else name].type.dialect_impl(dialect).bind_processor(dialect))
        for name in compiled.positiontup or ()
    ]
    return compiled.string, order


@functools.cache
def _statement(parts: tuple[tuple[Table, tuple[str, ...], bool], ...]) -> Select[Any]:
    """``WITH w0 AS (INSERT ...), w1 AS (UPDATE ...) SELECT 1``: part ``n`` reads parameters ``p{n}_*``."""
    ctes = []
    for n, (table, names, is_update) in enumerate(parts):
        rows = unnested(table, names, prefix=f"p{n}_")
        if is_update:
            changed = {name: value_of(table, rows, name) for name in names if name != PK}
            statement: Any = update(table).values(changed).where(table.c.id == rows.c[PK])
        else:
            values = select(*(value_of(table, rows, name) for name in names))
            statement = insert(table).from_select(names, values, include_defaults=False)
        ctes.append(statement.cte(f"w{n}"))
    return select(literal(1)).add_cte(*ctes)


def _with_defaults(table: Table, rows: Sequence[Row]) -> list[Row]:
    """``rows`` with a value for each column that has a default and was left out."""
    given = rows[0].keys()
    defaults = {
        c.name: _default_of(c.default) for c in table.columns if c.name not in given and c.default is not None
    }
    return [row | defaults for row in rows] if defaults else list(rows)


def _default_of(default: Any) -> Any:
    # A ColumnDefault: a value, or a callable SQLAlchemy has wrapped to take an execution context.
    return default.arg if default.is_scalar else default.arg(None)


def _element_type(table: Table, name: str) -> Any:
    return Text() if _is_json(table, name) else table.c["id" if name == PK else name].type


def _is_json(table: Table, name: str) -> bool:
    return name != PK and isinstance(table.c[name].type, JSON)
