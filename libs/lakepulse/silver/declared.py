"""What each silver table declares to Delta: its rules as CHECK constraints, its features, its comments.

The rules are the ones refine enforces itself (`RULES` of each table's module, action `fail`, or
`quarantine`/`drop`, whose rows never reach the table): as constraints they also refuse another
writer's breaking rows. `warn` rules are not constraints (a warning lets the row in), nor is what no
row-level predicate over the table's own columns can say: key uniqueness (`event_id`, the billing line,
customer states), price intervals chaining (`valid_to` is the next row's `valid_from`), the late window
(it compares with the arrival day, which silver does not keep) and the reference lists (they are
checked at ingestion against configuration that may change).

Deletion vectors on the tables whose MERGE updates rows in place (`customers`, `prices`): an update then
marks the old row deleted instead of rewriting its whole file. Not on the other tables, although the
right to erasure DELETEs from several of them: delta-rs 1.6.6 refuses to scan a table with the
`deletionVectors` reader feature through pyarrow (`to_pyarrow_table`, `to_pandas`; its DataFusion
`QueryBuilder` reads it), and erasure purges what it deletes at once anyway (`ops.erasure`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pyspark.sql import SparkSession

from lakepulse.config import Config
from lakepulse.contracts import comments
from lakepulse.contracts.expectations import Expectation
from lakepulse.runtime import delta_io
from lakepulse.runtime.table_meta import (
    DELETION_VECTORS,
    Declared,
    check_expression,
    constraint_name,
    ensure_declared,
)
from lakepulse.silver.common import CHANGE_FEED, CHANGE_FEED_TABLES

DELETION_VECTOR_TABLES = ("customers", "prices")
REFUSING = ("fail", "quarantine", "drop")


def checks(rules: Sequence[Expectation]) -> dict[str, str]:
    return {constraint_name(r.name): check_expression(r.expr) for r in rules if r.action in REFUSING}


def silver_table(table: str, rules: Sequence[Expectation]) -> Declared:
    properties: dict[str, str] = {}
    if table in CHANGE_FEED_TABLES:
        properties.update(CHANGE_FEED)
    if table in DELETION_VECTOR_TABLES:
        properties.update(DELETION_VECTORS)
    name = f"silver/{table}"
    return Declared(properties, checks(rules), comments.TABLES.get(name), comments.COLUMNS.get(name, {}))


def ensure(spark: SparkSession, config: Config, declared: dict[str, Declared], tables: Iterable[str]) -> None:
    """Declares what `tables` lack (those that exist): one metadata read each, commits only for changes."""
    for table in tables:
        path = config.table_path("silver", table)
        if delta_io.is_delta(spark, path):
            ensure_declared(spark, path, declared[table])
