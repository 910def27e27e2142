"""Whole gold tables recomputed from scratch, for a lake whose silver was just replaced wholesale.

Bring-your-own-data (silver.byod) replaces silver with a user's file on every load; the runner's
incremental plan would then keep gold days that silver no longer has, so the tables are rebuilt over
every computable day and replaced whole instead.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import SparkSession

from lakepulse.config import Config
from lakepulse.gold.context import Context, Table
from lakepulse.gold.planner import DayRange
from lakepulse.gold.runner import computable_days
from lakepulse.runtime import delta_io


def rebuild(spark: SparkSession, config: Config, tables: Sequence[Table]) -> str:
    """Every computable day of `tables`, each table replaced whole; one line naming tables and days."""
    done = []
    for table in tables:
        ctx = Context(spark, config)
        first, last = computable_days(ctx, table)
        if first > last:
            done.append(f"gold/{table.name}: no computable day")
            continue
        days = DayRange(first, last)
        df = table.build(ctx, days)
        df = df.repartition(*table.partition_by) if table.partition_by else df.repartition(1)
        delta_io.overwrite(df, config.table_path("gold", table.name), table.partition_by)
        done.append(f"gold/{table.name} {days}")
    return ", ".join(done)
