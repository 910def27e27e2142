"""Re-deliveries of erased customers: refused at ingest, counted, never loaded again.

`forget` records each erasure, with the customer's keyed hash only, in _ops/erasure_requests. A source
that re-sends such a customer's records (an export re-run, a late file) would otherwise bring the clear
id back into bronze. A source that declares `customer_id` therefore checks each record's keyed hash
against the erased ones: a match is quarantined with reason `erased_customer` and no raw text (the
quarantine must not keep what was erased), so the batch still reconciles (read = loaded + quarantined
+ duplicates) and the audit says how many were refused.

Only a lake with erasures pays for it (one HMAC per record of those sources); the erased keys are one
short list per run, read from the erasure table (it grows by one row per request, not per batch).
"""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lakepulse import privacy
from lakepulse.config import Config
from lakepulse.contracts.expectations import Expectation
from lakepulse.contracts.sources import Source
from lakepulse.ops import lake
from lakepulse.runtime import delta_io

REASON = "erased_customer"
FLAG = "_erased"
# First among the source's rules, so that an erased customer's record is refused whatever else it breaks.
RULE = Expectation(REASON, f"NOT coalesce({FLAG}, false)")
ID_FIELD = "customer_id"


def erased_keys(spark: SparkSession, config: Config) -> list[str]:
    """The keyed hashes of every customer erased from this lake (a few; empty without erasures)."""
    path = lake.ops(config, lake.ERASURE_REQUESTS)
    if not delta_io.is_delta(spark, path):
        return []
    rows = delta_io.read_delta(spark, path).select("customer_key").distinct().collect()
    return sorted(r["customer_key"] for r in rows if r["customer_key"])


def refusal(spark: SparkSession, config: Config, source: Source) -> Callable[[DataFrame], DataFrame] | None:
    """A transform adding the `_erased` flag to parsed records of `source`, or None when there is nothing
    to refuse (the source has no customer id, or nobody was erased). Needs the pseudonymisation key then.
    """
    if ID_FIELD not in source.field_names:
        return None
    keys = erased_keys(spark, config)
    if not keys:
        return None
    key = privacy.pseudonym_key(config)

    def flag(parsed: DataFrame) -> DataFrame:
        hashed = privacy.pseudonymise(F.trim(F.col(ID_FIELD)))
        keyed = parsed.transform(privacy.with_key(key))
        return keyed.select(*[F.col(c) for c in parsed.columns], hashed.isin(*keys).alias(FLAG))

    return flag
