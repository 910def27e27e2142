"""Silver-side expectations shared by the tables: the schema's NOT NULL columns, checked as data.

They run with action `fail`: ingestion has already quarantined every record that could break them, so
a failure here means a bug, and the step stops before writing anything.
"""

from __future__ import annotations

from pyspark.sql import types as T

from lakepulse.contracts.expectations import Expectation


def required(schema: T.StructType) -> list[Expectation]:
    return [
        Expectation(f"conformed:{f.name}", f"`{f.name}` IS NOT NULL", "fail")
        for f in schema.fields
        if not f.nullable
    ]
