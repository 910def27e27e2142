"""Right to erasure: remove one customer from every table of the lake, quarantine included.

Which rows belong to the customer is decided by column, the same way for every table, so a table
added later is covered without code changes:
- `customer_key` (silver and gold): the keyed hash of the id;
- `customer_id` (anywhere the clear id is kept): the id itself;
- `raw` (bronze and quarantine keep the record as received): the id as a whole token in the text.
Deleted rows are then purged from deletion vectors, so the next VACUUM removes the files that held
them and no earlier table version can be read back with the customer in it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from delta.tables import DeltaTable
from pyspark.sql import Column, SparkSession
from pyspark.sql import functions as F

from lakepulse.errors import UsageError

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


def erase_from_table(
    spark: SparkSession, name: str, path: str, customer_id: str, customer_key: str
) -> Erased | None:
    table = DeltaTable.forPath(spark, path)
    predicate = match_customer(table.toDF().columns, customer_id, customer_key)
    if predicate is None:
        return None
    table.delete(predicate)
    metrics = table.history(1).select("operation", "operationMetrics").first()
    rows = (
        int((metrics["operationMetrics"] or {}).get("numDeletedRows", 0))
        if metrics["operation"] == "DELETE"
        else 0
    )
    if rows:
        # Rewrites files that only carry deletion vectors, so VACUUM can remove the originals.
        spark.sql(f"REORG TABLE delta.`{path}` APPLY (PURGE)")
    return Erased(name, rows)
