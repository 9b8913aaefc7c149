"""Hand-written statements for the turn's hot path.

A turn runs a handful of statements whose shape never changes; building each through the ORM's
query builder cost more CPU than the rest of the turn (docs/benchmarks.md, "One turn"). These
helpers keep the SQL text fixed per dialect and convert values with the models' own fields,
so what is stored is exactly what the ORM would store, and rows read back become the same
model objects (`Model._init_from_db`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.models import Model


def client() -> BaseDBAsyncClient:
    """The task's connection (the transaction's, inside one)."""
    return connections.get("default")


def postgres(db: BaseDBAsyncClient) -> bool:
    return db.capabilities.dialect == "postgres"


def marks(count: int, is_postgres: bool, start: int = 0, *,
          numbered: bool = False) -> list[str]:
    """Placeholders: $1, $2 … on PostgreSQL, ? on SQLite (?1, ?2 … when `numbered`: a
    statement that uses a value twice)."""
    if is_postgres or numbered:
        mark = "$" if is_postgres else "?"
        return [f"{mark}{start + n + 1}" for n in range(count)]
    return ["?"] * count


def value_rows(width: int, count: int, is_postgres: bool) -> str:
    """`(?, ?), (?, ?)` — or `($1, $2), ($3, $4)` — for `count` rows of `width` values: the
    VALUES of a multi-row INSERT (its rows get ids in the order listed, on both databases)."""
    return ", ".join(f"({', '.join(marks(width, is_postgres, n * width))})"
                     for n in range(count))


def db_values(model: type[Model], names: Sequence[str], values: dict[str, Any]) -> list[Any]:
    """`values` by field name, converted for the database as the ORM converts them."""
    fields = model._meta.fields_map
    return [fields[name].to_db_value(values[name], model) for name in names]


def columns(model: type[Model]) -> list[str]:
    """The model's columns (database names), in a fixed order."""
    return [field.source_field or name for name, field in model._meta.fields_map.items()
            if name in model._meta.db_fields]


def select_list(model: type[Model], alias: str) -> str:
    """`alias.col AS alias__col, …`: the model's columns, prefixed so one row can carry
    several models (see `from_row`)."""
    return ", ".join(f'{alias}."{column}" AS {alias}__{column}' for column in columns(model))


_row_keys: dict[tuple[type[Model], str], tuple[tuple[str, str], ...]] = {}


def from_row(model: type[Model], alias: str, row: dict[str, Any]) -> Any:
    """The model object in `row`'s `alias__` columns (None when its key is NULL, the outer
    join found nothing)."""
    keys = _row_keys.get((model, alias))
    if keys is None:
        keys = _row_keys[model, alias] = tuple((f"{alias}__{column}", column)
                                               for column in columns(model))
    if row[f"{alias}__{model._meta.db_pk_column}"] is None:
        return None
    return model._init_from_db(**{column: row[key] for key, column in keys})


async def execute(sql: str, values: Iterable[Any]) -> int:
    """Run a statement; the rows it changed."""
    changed, _ = await client().execute_query(sql, list(values))
    return int(changed)
