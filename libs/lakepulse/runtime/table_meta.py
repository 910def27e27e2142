"""What a table declares to Delta itself: properties, CHECK constraints and comments, applied idempotently.

lakepulse checks its rules while it writes; a constraint makes Delta refuse a breaking write from any
other writer too (a notebook's append, a hand-run MERGE). Declarations are reconciled against the
table's current metadata, read once (`DESCRIBE DETAIL` and the schema), so a table that already has
them costs no commit; adding a constraint makes Delta check the existing rows once.

NOT NULL is declared as a CHECK constraint (`col IS NOT NULL`), not as a column's nullability: Spark 4
refuses `ALTER COLUMN ... SET NOT NULL` on a column created nullable ("Cannot change nullable column to
non-nullable"), and a DataFrame writer creates most columns nullable.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from pyspark.errors import AnalysisException
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from lakepulse.runtime import conflicts

log = logging.getLogger("lakepulse.runtime.table_meta")

# Every constraint lakepulse owns starts with this; others' constraints are never touched.
PREFIX = "rule_"
DELETION_VECTORS = {"delta.enableDeletionVectors": "true"}


@dataclass(frozen=True)
class Declared:
    """A table's declarations: delta.* properties, CHECK constraints (name -> SQL boolean expression over
    the table's own columns, NULL counting as broken), its comment and column comments."""

    properties: Mapping[str, str] = field(default_factory=dict)
    checks: Mapping[str, str] = field(default_factory=dict)
    comment: str | None = None
    column_comments: Mapping[str, str] = field(default_factory=dict)

    def creation_options(self) -> dict[str, str]:
        """Writer options that give a table being created its properties and constraints in its first
        commit: Delta checks the written rows against them there, with no later scan (adding a
        constraint to an existing table scans it, several seconds even for a small one)."""
        return {
            **self.properties,
            **{f"delta.constraints.{name}": expr for name, expr in self.checks.items()},
        }


def constraint_name(rule: str) -> str:
    """A Delta constraint name for a rule name (`conformed:event_id` -> `rule_conformed_event_id`)."""
    return PREFIX + re.sub(r"[^a-z0-9_]+", "_", rule.lower()).strip("_")


def check_expression(expr: str) -> str:
    """The rule as a constraint: NULL is broken, as for the rule itself (SQL CHECK would let it pass)."""
    return f"coalesce(({expr}), false)"


def _normal(expr: str) -> str:
    """Delta stores a constraint re-tokenised (`coalesce ( x , false )`): compare without spacing."""
    return re.sub(r"[\s`]", "", expr).lower()


def _quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def ensure_declared(spark: SparkSession, path: str, declared: Declared) -> list[str]:
    """Brings the table at `path` to `declared` (only what differs; one metadata commit per change).

    Returns what was changed, for the log. Constraints named with PREFIX that are no longer declared
    are dropped, so a rule removed from the code stops refusing writes. Reconciled again, from the table's
    new metadata, after a Delta conflict with another run's commit.
    """
    return conflicts.retrying(spark, path, "declare", lambda: _ensure_declared_once(spark, path, declared))


def _ensure_declared_once(spark: SparkSession, path: str, declared: Declared) -> list[str]:
    table = f"delta.`{path}`"
    row = spark.sql(f"DESCRIBE DETAIL {table}").select("properties", "description").first()
    current = dict(row["properties"] or {})
    changed: list[str] = []
    missing = {k: _quote(v) for k, v in declared.properties.items() if current.get(k) != v}
    if declared.comment is not None and row["description"] != declared.comment:
        missing["comment"] = _quote(declared.comment)
    if missing:
        settings = ", ".join(f"'{k}' = {v}" for k, v in sorted(missing.items()))
        spark.sql(f"ALTER TABLE {table} SET TBLPROPERTIES ({settings})")
        changed += sorted(missing)
    changed += _ensure_checks(spark, path, current, declared.checks)
    changed += _ensure_column_comments(spark, path, declared.column_comments)
    if changed:
        log.info("%s: declared %s", path, ", ".join(changed))
    return changed


def _resolves(spark: SparkSession, path: str, expr: str) -> bool:
    """Whether `expr` is valid over the table's columns (analysis only, no Spark job)."""
    try:
        spark.read.format("delta").load(path).limit(0).select(F.expr(expr))
    except AnalysisException:
        return False
    return True


def _ensure_checks(
    spark: SparkSession, path: str, properties: Mapping[str, str], checks: Mapping[str, str]
) -> list[str]:
    table = f"delta.`{path}`"
    have = {
        k.removeprefix("delta.constraints."): v
        for k, v in properties.items()
        if k.startswith("delta.constraints." + PREFIX)
    }
    changed = []
    for name in sorted(set(have) - set(checks)):
        spark.sql(f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {name}")
        changed.append(f"-{name}")
    for name, expr in sorted(checks.items()):
        if name in have and _normal(have[name]) == _normal(expr):
            continue
        if not _resolves(spark, path, expr):  # a table of an older schema, without the rule's column
            log.warning("%s: constraint %s not declared: the table lacks a column of %s", path, name, expr)
            continue
        if name in have:
            spark.sql(f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {name}")
        spark.sql(f"ALTER TABLE {table} ADD CONSTRAINT {name} CHECK ({expr})")
        changed.append(name)
    return changed


def _ensure_column_comments(spark: SparkSession, path: str, comments: Mapping[str, str]) -> list[str]:
    if not comments:
        return []
    schema = spark.read.format("delta").load(path).schema
    stale = [
        (f.name, comments[f.name])
        for f in schema.fields
        if f.name in comments and f.metadata.get("comment") != comments[f.name]
    ]
    if stale:  # one statement, one commit, for all of them
        columns = ", ".join(f"`{name}` COMMENT {_quote(text)}" for name, text in stale)
        spark.sql(f"ALTER TABLE delta.`{path}` ALTER COLUMN {columns}")
    return [f"comment:{name}" for name, _ in stale]
