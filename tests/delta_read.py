"""Reading a Delta table the way a non-Spark user does: delta-rs, through its DataFusion reader.

DataFusion applies deletion vectors; delta-rs' pyarrow reader (`DeltaTable.to_pandas`) refuses a table
that has them (silver/customers and silver/prices do, docs/silver.md). Tests read lakepulse's tables
with a reader that is not the Spark that wrote them.
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
from deltalake import DeltaTable, QueryBuilder


def rs_frame(path: str, sql: str = "SELECT * FROM t") -> pd.DataFrame:
    """The result of `sql` over the Delta table at `path`, registered as `t`."""
    result = QueryBuilder().register("t", DeltaTable(str(path))).execute(sql)
    return pa.table(result.read_all()).to_pandas()


def rs_count(path: str) -> int:
    """The table's row count."""
    return int(rs_frame(path, "SELECT count(*) AS n FROM t")["n"].iloc[0])
