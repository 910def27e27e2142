"""What the silver tables share: typing bronze's text, scrubbing free text, and idempotent writes.

Bronze keeps every field as received; its types were checked at ingestion by the same declarations
(`lakepulse.contracts.sources`), so typing here reuses `typed_value` and cannot disagree with ingestion.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakepulse import privacy
from lakepulse.bronze import parse
from lakepulse.config import Config
from lakepulse.contracts.expectations import Expectation
from lakepulse.contracts.sources import Source
from lakepulse.runtime import delta_io

METADATA = ("batch_id", "run_id", "ingested_at", "source_file", "ingest_date", "raw")
TXN_APP_CONF = "spark.databricks.delta.write.txnAppId"
TXN_VERSION_CONF = "spark.databricks.delta.write.txnVersion"


@dataclass(frozen=True)
class Context:
    """One refine step of one unit: its idempotent-write identity and what the transforms need."""

    config: Config
    key: bytes  # pseudonymisation key
    txn: tuple[str, int]
    run_id: str
    recorded_at: str


@dataclass(frozen=True)
class Written:
    """What a unit's step did: rows written per silver table, and its expectation checks (one pass each)."""

    rows: dict[str, int]
    checks: list[tuple[str, Sequence[Expectation], object]]  # (dataset, rules, Outcome)


@dataclass(frozen=True)
class Unit:
    """Turns new bronze rows of one source into its silver table(s)."""

    name: str
    source: Source
    tables: tuple[str, ...]
    step: Callable[[SparkSession, DataFrame, Context], Written]


def typed(source: Source) -> Callable[[DataFrame], DataFrame]:
    """Bronze rows with every declared field typed, plus ingestion metadata and `raw`."""

    def transform(bronze: DataFrame) -> DataFrame:
        return bronze.select(
            *METADATA, *[parse.typed_value(f.kind, F.col(f.name)).alias(f.name) for f in source.fields]
        )

    return transform


def scrub(column: Column | str) -> Column:
    """Free text without e-mail, IPv4 or IPv6 addresses or phone numbers (users type them into search
    boxes, services write them into logs). IPv4 goes before phone numbers, whose pattern would take a
    dotted address for a number; the IPv6 and phone patterns only run on text that can hold one."""
    value = F.col(column) if isinstance(column, str) else column
    value = F.regexp_replace(value, privacy.EMAIL_PATTERN, "<email>")
    value = F.regexp_replace(value, privacy.IPV4_PATTERN, "<ipv4>")
    value = F.when(value.contains(":"), F.regexp_replace(value, privacy.IPV6_PATTERN, "<ipv6>")).otherwise(
        value
    )
    has_digits = value.rlike(r"\d[ .()-]{0,2}\d[ .()-]{0,2}\d[ .()-]{0,2}\d")
    return F.when(has_digits, F.regexp_replace(value, privacy.PHONE_PATTERN, "<phone>")).otherwise(value)


def pseudonym(column: str) -> Column:
    """The keyed hash of an identifier; absent or blank stays null (the frame went through
    `privacy.with_key`)."""
    value = F.trim(F.col(column))
    return F.when(F.length(value) > 0, privacy.pseudonymise(value))


def conform(schema: T.StructType) -> Callable[[DataFrame], DataFrame]:
    """`select` as the schema contract: exactly the schema's columns, in its order, with its types."""

    def transform(df: DataFrame) -> DataFrame:
        return df.select(*[F.col(f.name).cast(f.dataType).alias(f.name) for f in schema.fields])

    return transform


# The txn settings are the session's: one DML at a time holds them (units of a step run concurrently).
_DML_TXN_LOCK = threading.Lock()


@contextlib.contextmanager
def dml_txn(spark: SparkSession, txn: tuple[str, int]) -> Iterator[None]:
    """Makes the DML (MERGE) run inside idempotent: Delta skips it if (app id, version) was committed."""
    with _DML_TXN_LOCK:
        spark.conf.set(TXN_APP_CONF, txn[0])
        spark.conf.set(TXN_VERSION_CONF, str(txn[1]))
        try:
            yield
        finally:
            spark.conf.unset(TXN_APP_CONF)
            spark.conf.unset(TXN_VERSION_CONF)


# Day-partitioned silver tables record their changes (Delta's Change Data Feed): gold reads which days
# changed since its last run, so late records reach the gold days already computed (gold.runner).
CHANGE_FEED = {"delta.enableChangeDataFeed": "true"}
CHANGE_FEED_TABLES = ("events", "requests", "app_logs", "billing")


def merge_insert_new(
    spark: SparkSession,
    df: DataFrame,
    path: str,
    condition: str,
    txn: tuple[str, int],
    partition_by: Sequence[str] = (),
    properties: Mapping[str, str] = CHANGE_FEED,
) -> None:
    """Inserts the rows of `df` that match no target row (first arrival wins); creates the table on first
    use, with `properties` (the table's declared creation options, `silver.declared`)."""
    if not delta_io.is_delta(spark, path):
        frame = df.repartition(*partition_by) if partition_by else df
        delta_io.append(frame, path, partition_by, txn=txn, properties=properties)
        return
    with dml_txn(spark, txn):
        delta_io.merge(spark, df, path, condition, "WHEN NOT MATCHED THEN INSERT *")


def append_by_day(
    df: DataFrame,
    path: str,
    day_column: str,
    txn: tuple[str, int],
    properties: Mapping[str, str] = CHANGE_FEED,
) -> None:
    """Appends with one file per day partition, so Delta's auto compaction has nothing left to compact;
    `properties` apply when the append creates the table."""
    delta_io.append(df.repartition(F.col(day_column)), path, [day_column], txn=txn, properties=properties)
