"""The ingestion baseline: plain Spark reads the landing events with an explicit schema and writes Parquet.

    python -m bench.job --out R.json baseline --set paths.home=DIR [--input PATH] [--output PATH]

The same files as `ingest --source events` (every `part-*` file under <landing>/events, recursively),
the same session settings (the configuration and session factory every job uses), and the same schema:
the events' declared fields (lakepulse.contracts.sources.EVENTS) with their declared types. Written as
Parquet partitioned by event_date, the day of event_ts, like bronze/events. Nothing else: no
validation, quarantine, deduplication, audit or Delta log. One gzip file of generated data is
truncated on purpose (docs/landing.md); plain Spark cannot read it to its end, so the baseline skips
corrupt files (`ignoreCorruptFiles`), where ingest quarantines it.
"""

from __future__ import annotations

import argparse
import json
import sys

from pyspark.sql import types as T

from lakepulse.contracts import sources as S
from lakepulse.runtime.cli import Job

SPARK_TYPES = {
    S.STRING: T.StringType(),
    S.INT: T.IntegerType(),
    S.LONG: T.LongType(),
    S.DOUBLE: T.DoubleType(),
    S.TS_ISO: T.TimestampType(),
    S.DATE: T.DateType(),
}


def events_schema() -> T.StructType:
    return T.StructType([T.StructField(f.name, SPARK_TYPES[f.kind], True) for f in S.EVENTS.fields])


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", help="events folder (default: <landing>/events)")
    parser.add_argument("--output", help="Parquet folder (default: <home>/baseline/events_parquet)")


def body(args, config, spark) -> int:
    from pyspark.sql import functions as F

    source = args.input or config.landing_path("events")
    target = args.output or f"{config.paths.home}/baseline/events_parquet"
    events = (
        spark.read.schema(events_schema())
        .option("recursiveFileLookup", "true")
        .option("pathGlobFilter", "part-*")
        .option("ignoreCorruptFiles", "true")
        .json(source)
    )
    events.select("*", F.to_date("event_ts").alias("event_date")).write.mode("overwrite").partitionBy(
        "event_date"
    ).parquet(target)
    # Rows written: the event log's output metrics (a count here would add a read to the timing).
    print(json.dumps({"baseline_output": target}), flush=True)
    return 0


JOB = Job("baseline", __doc__, body, add_arguments)
main = JOB.main


if __name__ == "__main__":
    sys.exit(main())
