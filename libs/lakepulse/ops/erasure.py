"""Right to erasure: remove one customer from every table of the lake, quarantine included.

Which rows belong to the customer is decided by column, the same way for every table, so a table
added later is covered without code changes:
- `customer_key` (silver and gold): the keyed hash of the id;
- `customer_id` (anywhere the clear id is kept): the id itself;
- `raw` (bronze and quarantine keep the record as received): the id as a whole token in the text.
Deleted rows are then purged from deletion vectors, so the next VACUUM removes the files that held
them and no earlier table version can be read back with the customer in it.

Another run may commit to a table meanwhile (`maintain` compacting it, an ingest appending): the DELETE
and the purge are retried after a Delta conflict (both act on whatever rows match when they run), and
the rows erased are read from the DELETE's own commit, found by the request's tag in its commit info,
never from whichever commit happens to be the table's latest.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass

from delta.tables import DeltaTable
from pyspark.sql import Column, SparkSession
from pyspark.sql import functions as F

from lakepulse.errors import UsageError
from lakepulse.runtime import conflicts, delta_io

CUSTOMER_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True)
class Erased:
    table: str
    rows: int


def check_customer_id(customer_id: str) -> str:
    if not CUSTOMER_ID.match(customer_id or ""):
        raise UsageError(f"--customer {customer_id!r}: expected a customer id like C00000042")
    return customer_id


def match_customer(columns: list[str], customer_id: str, customer_key: str) -> Column | None:
    """The predicate selecting the customer's rows in a table with these columns, or None."""
    conditions = []
    if "customer_key" in columns:
        conditions.append(F.col("customer_key") == F.lit(customer_key))
    if "customer_id" in columns:
        conditions.append(F.col("customer_id") == F.lit(customer_id))
    if "raw" in columns:
        # A whole token: C0000004 must not match C00000042.
        conditions.append(
            F.col("raw").rlike(rf"(^|[^A-Za-z0-9_-]){re.escape(customer_id)}([^A-Za-z0-9_-]|$)")
        )
    if not conditions:
        return None
    predicate = conditions[0]
    for condition in conditions[1:]:
        predicate = predicate | condition
    return F.coalesce(predicate, F.lit(False))


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
    """Rows deleted by the DELETE commits tagged `tag` since `after_version` (commit metadata only)."""
    latest = delta_io.table_version(spark, path)
    if latest is None or latest <= after_version:
        return 0
    commits = (
        delta_io.history(spark, path, latest - after_version)
        .where((F.col("operation") == "DELETE") & (F.col("userMetadata") == tag))
        .select("operationMetrics")
        .collect()  # bounded: the commits since the DELETE began, usually one
    )
    return sum(int((c["operationMetrics"] or {}).get("numDeletedRows", 0)) for c in commits)


def erase_from_table(
    spark: SparkSession, name: str, path: str, customer_id: str, customer_key: str, tag: str
) -> Erased | None:
    """Deletes the customer's rows from one table, its commits tagged `tag` (unique per request)."""
    predicate = match_customer(delta_io.read_delta(spark, path).columns, customer_id, customer_key)
    if predicate is None:
        return None
    before = delta_io.table_version(spark, path)
    with commits_tagged(spark, tag):
        conflicts.retrying(spark, path, "DELETE", lambda: DeltaTable.forPath(spark, path).delete(predicate))
    rows = deleted_rows(spark, path, -1 if before is None else before, tag)
    if rows:
        # Rewrites files that only carry deletion vectors, so VACUUM can remove the originals.
        purge = f"REORG TABLE {delta_io.sql_table(path)} APPLY (PURGE)"
        delta_io.commit_sql(spark, path, "REORG TABLE APPLY (PURGE)", purge)
    return Erased(name, rows)
