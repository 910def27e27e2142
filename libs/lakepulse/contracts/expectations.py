"""Declared data-quality rules, in the spirit of Delta Live Tables expectations (absent from open-source Spark).

A rule is data: a name, a SQL boolean expression that must hold, and what to do with a row breaking it.
One generic function applies any list of rules, so a source declares rules and never hand-writes checks.

Semantics, chosen so that counts reconcile exactly and reasons are unambiguous:
- Rules are evaluated in declaration order and the first broken `drop`, `quarantine` or `fail` rule
  decides a row's fate: later rules are not evaluated for it (their values would be meaningless for a
  row that could not even be parsed). Its name becomes the row's machine-readable `reason`.
- `warn` rules only count: a row breaking one stays valid; it is counted when no earlier rule rejected it.
- A rule whose expression is NULL for a row is broken: a rule must positively hold (write
  `x IS NULL OR x > 0` for an optional field). This is stricter than SQL CHECK constraints on purpose.
- `fail` raises `DataQualityError` (one line, with the count) before anything is written.
- Primary-key uniqueness (`mark_duplicates`) keeps the first row per key in a deterministic order, so
  a rerun or a restarted run keeps the same row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, Row, Window
from pyspark.sql import functions as F

from lakepulse.errors import DataQualityError

ACTIONS = ("warn", "drop", "quarantine", "fail")
REASON = "_reason"
ACTION = "_action"
_FIRST = "_first_broken"


@dataclass(frozen=True)
class Expectation:
    name: str
    expr: str
    action: str = "quarantine"

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(
                f"expectation {self.name!r}: unknown action {self.action!r} (one of {', '.join(ACTIONS)})"
            )
        if not self.name or not self.expr:
            raise ValueError("an expectation needs a name and an expression")

    def holds(self) -> Column:
        return F.coalesce(F.expr(self.expr), F.lit(False))


@dataclass(frozen=True)
class Outcome:
    """What one application of a rule list did: how many rows broke each rule (first-failure counting)."""

    failed: dict[str, int]
    rows: int

    def failed_count(self, name: str) -> int:
        return self.failed.get(name, 0)


def _warn_flag(index: int) -> str:
    return f"_warn_{index}"


def flag(expectations: Sequence[Expectation]) -> Callable[[DataFrame], DataFrame]:
    """Adds `_reason` and `_action` (of the first broken rejecting rule, else null) and one flag per warn rule.

    Each rule's expression appears once in the plan: the index of the first broken rejecting rule is
    computed in one chain, and reason, action and "was a warn rule reached" are derived from it.
    """
    _check_unique_names(expectations)
    rejecting = [(i, e) for i, e in enumerate(expectations) if e.action != "warn"]

    def transform(df: DataFrame) -> DataFrame:
        first: Column = F.lit(None).cast("int")
        # Built back to front: the first rejecting rule ends up outermost, so it wins.
        for i, e in reversed(rejecting):
            first = F.when(~e.holds(), F.lit(i)).otherwise(first)
        indexed = df.select("*", first.alias(_FIRST))
        index = F.col(_FIRST)
        names = F.array(*[F.lit(e.name) for e in expectations])
        actions = F.array(*[F.lit(e.action) for e in expectations])
        warn_columns = [
            # Counted only when no rejecting rule declared before it was broken.
            (~e.holds() & (index.isNull() | (index > F.lit(i)))).alias(_warn_flag(i))
            for i, e in enumerate(expectations)
            if e.action == "warn"
        ]
        return indexed.select(
            *[F.col(f"`{c}`") for c in df.columns],
            F.when(index.isNotNull(), F.element_at(names, index + 1)).alias(REASON),
            F.when(index.isNotNull(), F.element_at(actions, index + 1)).alias(ACTION),
            *warn_columns,
        )

    return transform


def count_failures(
    flagged: DataFrame, expectations: Sequence[Expectation], extra: Sequence[Column] = ()
) -> tuple[Outcome, Row]:
    """One aggregation over a `flag`ged frame: the rows breaking each rule and the row count.

    `extra` aggregates ride along in the same pass; the whole result row is returned with the outcome.
    """
    aggregates = [F.count(F.lit(1)).alias("_rows"), *extra]
    for i, e in enumerate(expectations):
        hit = F.col(_warn_flag(i)) if e.action == "warn" else F.col(REASON) == F.lit(e.name)
        aggregates.append(F.sum(F.when(hit, 1).otherwise(0)).alias(f"_n{i}"))
    # One small row of counters: a bounded collect.
    row = flagged.agg(*aggregates).first()
    return Outcome(
        {e.name: int(row[f"_n{i}"] or 0) for i, e in enumerate(expectations)}, int(row["_rows"])
    ), row


def enforce(outcome: Outcome, expectations: Sequence[Expectation], dataset: str) -> None:
    """Raises for the first `fail` rule that was broken: one line naming the dataset, rule and count."""
    for e in expectations:
        if e.action == "fail" and outcome.failed_count(e.name):
            raise DataQualityError(
                f"{dataset}: expectation {e.name!r} ({e.expr}) failed for {outcome.failed_count(e.name)} row(s)"
            )


def valid_rows(flagged: DataFrame) -> DataFrame:
    return flagged.where(F.col(REASON).isNull())


def quarantined_rows(flagged: DataFrame) -> DataFrame:
    return flagged.where(F.col(ACTION) == F.lit("quarantine"))


def dropped_rows(flagged: DataFrame) -> DataFrame:
    return flagged.where(F.col(ACTION) == F.lit("drop"))


def strip_flags(df: DataFrame) -> DataFrame:
    return df.select(*[c for c in df.columns if c not in (REASON, ACTION) and not c.startswith("_warn_")])


@dataclass(frozen=True)
class Applied:
    valid: DataFrame
    quarantined: DataFrame
    dropped: DataFrame
    outcome: Outcome


def apply_expectations(df: DataFrame, expectations: Sequence[Expectation], dataset: str) -> Applied:
    """Flags, counts (one pass), enforces `fail` rules, and splits the rows.

    The returned frames share the flagged plan; persist `df` first when it is expensive to recompute.
    `quarantined` keeps `_reason`; `valid` and `dropped` have the flag columns removed.
    """
    flagged = df.transform(flag(expectations))
    outcome, _ = count_failures(flagged, expectations)
    enforce(outcome, expectations, dataset)
    quarantined = quarantined_rows(flagged).select(*df.columns, F.col(REASON).alias("reason"))
    return Applied(strip_flags(valid_rows(flagged)), quarantined, strip_flags(dropped_rows(flagged)), outcome)


def mark_duplicates(
    keys: Sequence[str], order_by: Sequence[str], flag_column: str = "_duplicate"
) -> Callable:
    """Flags every row but the first per primary key (nulls compare equal), in a deterministic order.

    `order_by` must make the kept row's content deterministic: rows that tie on it are identical in
    every column that is written, so which of them is kept does not change the result.
    """
    if not keys:
        raise ValueError("primary-key uniqueness needs at least one key column")

    def transform(df: DataFrame) -> DataFrame:
        window = Window.partitionBy(*keys).orderBy(*[F.col(c).asc_nulls_first() for c in order_by])
        return df.withColumn(flag_column, F.row_number().over(window) > F.lit(1))

    return transform


def _check_unique_names(expectations: Sequence[Expectation]) -> None:
    names = [e.name for e in expectations]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ValueError(f"expectation names must be unique: {', '.join(duplicated)}")
