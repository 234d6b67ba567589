"""One-row INSERTs with the SQL built once per model and column set, for the submission's hot path.

`Model.objects.create` builds its INSERT anew on every call: a query object, a compiler, the quoting of each column.
In a rush at close that was a good part of a prediction's CPU, three rows at a time (the prediction, its audit row and
its log entry). `insert_row` keeps the statement text per (model, columns, database vendor) and converts each value
exactly as the ORM would (`Field.get_db_prep_save`), so a row written here reads back through the ORM unchanged.
It skips what `create` would do besides: model signals (this project connects none to these models) and defaults
(the caller passes every column it needs).
"""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.db.models import Field, Model

_STATEMENTS: dict[tuple[type[Model], tuple[str, ...], str], tuple[str, tuple[Field, ...]]] = {}


def _insert_sql(model: type[Model], columns: tuple[str, ...], vendor: str) -> tuple[str, tuple[Field, ...]]:
    if (model, columns, vendor) in _STATEMENTS:
        return _STATEMENTS[model, columns, vendor]
    meta = model._meta
    fields = tuple(meta.get_field(name) for name in columns)
    quote = connection.ops.quote_name
    names = ", ".join(quote(f.column) for f in fields)
    slots = ", ".join(["%s"] * len(fields))
    sql = f"INSERT INTO {quote(meta.db_table)} ({names}) VALUES ({slots}) RETURNING {quote(meta.pk.column)}"
    _STATEMENTS[model, columns, vendor] = sql, fields
    return sql, fields


def insert_row(model: type[Model], **values: Any) -> int:
    """Insert one row of `model` (keys are field names or, for a foreign key, `<name>_id`) and return its id."""
    sql, fields = _insert_sql(model, tuple(values), connection.vendor)
    params = [field.get_db_prep_save(value, connection) for field, value in zip(fields, values.values(), strict=True)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]
