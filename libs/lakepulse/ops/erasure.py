"""Right to erasure: remove one customer from every table of the lake, quarantine included.

Which rows belong to the customer is decided by column, the same way for every table, so a table
added later is covered without code changes:
- `customer_key` (silver and gold): the keyed hash of the id;
- `customer_id` (anywhere the clear id is kept): the id itself;
- `raw` (bronze and quarantine keep the record as received): the id as a whole token in the text.
Deleted rows are then purged from deletion vectors, so the next VACUUM removes the files that held
them and no earlier table version can be read back with the customer in it.

The rows are deleted by a MERGE with a one-row source holding the id, its key and the token pattern,
not by a DELETE: Delta keeps a DELETE's predicate, literals included, in the table's log, which VACUUM
never removes; a MERGE's condition names only columns. It is Delta SQL, so forget runs over Spark
Connect too.

Another run may commit to a table meanwhile (`maintain` compacting it, an ingest appending): the MERGE
and the purge are retried after a Delta conflict (both act on whatever rows match when they run), and
the rows erased are read from the MERGE's own commit, found by the request's tag in its commit info,
never from whichever commit happens to be the table's latest.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lakepulse.errors import UsageError
from lakepulse.runtime import delta_io

CUSTOMER_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True)
class Erased:
    table: str
    rows: int


def check_customer_id(customer_id: str) -> str:
    if not CUSTOMER_ID.match(customer_id or ""):
        raise UsageError(f"--customer {customer_id!r}: expected a customer id like C00000042")
    return customer_id


def match_customer(columns: list[str]) -> str | None:
    """The MERGE condition selecting the customer's rows in a table with these columns, or None.

    It compares the table (`t`) with the one-row source (`s`: customer_id, customer_key, pattern) and
    names columns only: Delta writes a MERGE's condition into the table's log, where a DELETE's
    predicate would have kept the clear id (as a literal) for as long as the log is kept.
    """
    conditions = []
    if "customer_key" in columns:
        conditions.append("t.`customer_key` = s.customer_key")
    if "customer_id" in columns:
        conditions.append("t.`customer_id` = s.customer_id")
    if "raw" in columns:
        conditions.append("t.`raw` RLIKE s.pattern")  # a whole token: C0000004 must not match C00000042
    return f"coalesce({' OR '.join(conditions)}, false)" if conditions else None


def token_pattern(customer_id: str) -> str:
    """The id as a whole token (C0000004 is not C00000042): one regular expression for Spark's RLIKE
    (Java) and Python's `re` alike, as a checked id holds only letters, digits, `_` and `-`."""
    return rf"(^|[^A-Za-z0-9_-]){re.escape(check_customer_id(customer_id))}([^A-Za-z0-9_-]|$)"


def customer_source(spark: SparkSession, customer_id: str, customer_key: str) -> DataFrame:
    return spark.createDataFrame(
        [(customer_id, customer_key, token_pattern(customer_id))],
        "customer_id string, customer_key string, pattern string",
    )


# Delta records this session setting as the user metadata of every commit made while it is set.
USER_METADATA = "spark.databricks.delta.commitInfo.userMetadata"


@contextlib.contextmanager
def commits_tagged(spark: SparkSession, tag: str) -> Iterator[None]:
    previous = spark.conf.get(USER_METADATA, None)
    spark.conf.set(USER_METADATA, tag)
    try:
        yield
    finally:
        if previous is None:
            spark.conf.unset(USER_METADATA)
        else:
            spark.conf.set(USER_METADATA, previous)


def deleted_rows(spark: SparkSession, path: str, after_version: int, tag: str) -> int:
    """Rows deleted by the MERGE commits tagged `tag` since `after_version` (commit metadata only)."""
    latest = delta_io.table_version(spark, path)
    if latest is None or latest <= after_version:
        return 0
    commits = (
        delta_io.history(spark, path, latest - after_version)
        .where((F.col("operation") == "MERGE") & (F.col("userMetadata") == tag))
        .select("operationMetrics")
        .collect()  # bounded: the commits since the MERGE began, usually one
    )
    return sum(int((c["operationMetrics"] or {}).get("numTargetRowsDeleted", 0)) for c in commits)


def erase_from_table(
    spark: SparkSession, name: str, path: str, customer_id: str, customer_key: str, tag: str
) -> Erased | None:
    """Deletes the customer's rows from one table, its commits tagged `tag` (unique per request)."""
    condition = match_customer(delta_io.read_delta(spark, path).columns)
    if condition is None:
        return None
    before = delta_io.table_version(spark, path)
    source = customer_source(spark, customer_id, customer_key)
    with commits_tagged(spark, tag):
        delta_io.merge(spark, source, path, condition, "WHEN MATCHED THEN DELETE")
    rows = deleted_rows(spark, path, -1 if before is None else before, tag)
    if rows:
        # Rewrites files that only carry deletion vectors, so VACUUM can remove the originals.
        purge = f"REORG TABLE {delta_io.sql_table(path)} APPLY (PURGE)"
        delta_io.commit_sql(spark, path, "REORG TABLE APPLY (PURGE)", purge)
    return Erased(name, rows)
