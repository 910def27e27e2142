"""The single-node alternative for the scale benchmark: gold kpi_daily computed by DuckDB.

    python -m bench.duckdb_kpis SILVER_ROOT --first D --last D [--horizon N --active N] [--out F.parquet]

What a competent DuckDB user would write to get the same columns as lakepulse's `kpis` job
(libs/lakepulse/gold/kpi_daily.py, docs/gold.md) from the same silver Delta tables, so the benchmark
compares engines, not algorithms of different quality:

- Delta is read through delta-rs's list of the current version's data files (`live_parquet_files`):
  the files a table keeps for time travel are never read. Partition values (event_date) are not in
  the Parquet files; Spark writes them as `col=value/` folders, which DuckDB's hive partitioning
  turns back into a typed column (and prunes on).
- Distinct active customers over 1/7/30 days and the churn base/churned counts are all "how many
  customers are in a set on day X": each customer's active days become non-overlapping day spans
  (lead() over the customer's days), cut by the customer's state intervals (a range join), and one
  running sum of +1/-1 boundaries per segment counts them, linear in customer-days (no fan-out of a
  day to the 30 days it covers, no customer x label-date grid).
- The churn label of a customer active as of L (event in [L - A, L)) follows from the last active
  day x < L, the next active day n >= L and the next cancel c >= L: no event in [L, L + H) iff
  L <= n - H; a cancel in it iff L >= c - H + 1. Both are spans of L, so they are counted like actives.
- Session-days are a hash aggregate; their segment is an ASOF join to the state in force.

The answer must equal gold kpi_daily exactly (tests/test_gold_kpis.py checks it on the fixture).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
from deltalake import DeltaTable

from lakepulse.gold.kpi_daily import ACTIVE_WINDOWS, COUNTS

# The table's column names are the contract shared with the product; the computation below is DuckDB's own.
DIMENSIONS = (("country", "country"), ("channel", "acquisition_channel"), ("plan", "plan"))
DUCKDB_TYPES = {"date": "DATE", "string": "VARCHAR", "integer": "INTEGER", "long": "BIGINT"}


def live_parquet_files(table_path: str | Path, predicate: str | None = None) -> list[str]:
    """The data files of the table's current version (optionally pruned by a partition predicate)."""
    return _live_files(DeltaTable(str(table_path)), predicate)


def _live_files(table: DeltaTable, predicate: str | None) -> list[str]:
    """Rows a deletion vector hides are still in their file, and plain Parquet readers would return
    them: such a table is refused rather than read wrong."""
    if table.deletion_vectors().read_all().num_rows:
        raise ValueError(
            f"{table.table_uri} has deletion vectors: purge them (REORG ... APPLY (PURGE)) first"
        )
    return table.file_uris(file_pruning_predicate=predicate) if predicate else table.file_uris()


def scan(table: DeltaTable, predicate: str | None = None) -> str:
    """A DuckDB table expression over the table's live files, partition columns included."""
    files = _live_files(table, predicate)
    if not files:
        raise ValueError(f"{table.table_uri}: no data file{' for ' + predicate if predicate else ''}")
    partitions = table.metadata().partition_columns
    if not partitions:
        return f"read_parquet({files!r})"
    if not all(f"/{p}=" in f for f in files for p in partitions):
        raise ValueError(f"{table.table_uri}: partition folders are not hive-style col=value/")
    types = {f.name: DUCKDB_TYPES[str(f.type.type)] for f in table.schema().fields if f.name in partitions}
    hive = ", ".join(f"'{name}': '{kind}'" for name, kind in types.items())
    return f"read_parquet({files!r}, hive_partitioning = true, hive_types = {{{hive}}})"


def first_day(table: DeltaTable, column: str) -> dt.date:
    """The table's first partition day, from the Delta log's add actions (no data file opened)."""
    return min(pa.table(table.get_add_actions(flatten=True)).column(f"partition.{column}").to_pylist())


# --- SQL: one step per temporary table, each a hash aggregate, window or join over the previous ones.

STATES = """
CREATE OR REPLACE TEMP TABLE states AS
SELECT customer_key, country, acquisition_channel, plan, valid_from, valid_to FROM (
    SELECT *,
        CASE WHEN row_number() OVER w = 1 THEN DATE '1900-01-01' ELSE CAST(updated_at AS DATE) END
            AS valid_from,
        CAST(lead(updated_at) OVER w AS DATE) - 1 AS valid_to
    FROM {history} WINDOW w AS (PARTITION BY customer_key ORDER BY updated_at))
WHERE valid_to IS NULL OR valid_to >= valid_from
"""

# Per customer and active day: the next active day and the next cancel day after it (far future when none).
ACTIVE = """
CREATE OR REPLACE TEMP TABLE active AS
SELECT customer_key, day,
    coalesce(lead(day) OVER w, DATE '9999-01-01') AS nxt,
    coalesce(min(CASE WHEN cancels THEN day END) OVER (w ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING),
             DATE '9999-01-01') AS next_cancel
FROM (SELECT customer_key, event_date AS day, bool_or(event_type = 'subscription_cancel') AS cancels
      FROM {events} WHERE customer_key IS NOT NULL AND event_date BETWEEN DATE '{read_from}' AND DATE '{last}'
      GROUP BY ALL)
WINDOW w AS (PARTITION BY customer_key ORDER BY day)
"""

# Spans [lo, hi] of dates X on which the customer counts, segmented by their state on X - lag.
# Churn of label date L = X - H uses the state at the end of L - 1.
SPANS = """
CREATE OR REPLACE TEMP TABLE spans AS
SELECT metric, customer_key, lo, hi, lag FROM active, LATERAL (VALUES
    ('active_customers_daily', day, day, 0),
    ('active_customers_weekly', day, least(day + 6, nxt - 1), 0),
    ('active_customers_monthly', day, least(day + 29, nxt - 1), 0),
    ('churn_base', day + 1 + {h}, least(day + {a}, nxt) + {h}, {h} + 1),
    ('churned', day + 1 + {h}, least(day + {a}, nxt - {h}) + {h}, {h} + 1),
    ('churned', greatest(day + 1, next_cancel - {h} + 1) + {h}, least(day + {a}, nxt) + {h}, {h} + 1)
) v(metric, lo, hi, lag)
WHERE lo <= hi AND hi >= DATE '{first}' AND lo <= DATE '{last}'
"""

SEGMENTS = """
CROSS JOIN LATERAL (VALUES ('all', 'all'), ('country', coalesce(country, 'unknown')),
    ('channel', coalesce(acquisition_channel, 'unknown')), ('plan', coalesce(plan, 'unknown'))
) seg(dimension, segment)
"""

# Spans cut by state intervals (shifted by the lag), clipped to the computed days, then per segment a
# running sum of +1 at each start and -1 after each end gives the count on every day.
SPAN_COUNTS = """
CREATE OR REPLACE TEMP TABLE span_counts AS
WITH cut AS (
    SELECT x.metric,
        greatest(x.lo, coalesce(s.valid_from + x.lag, x.lo), DATE '{first}') AS lo,
        least(x.hi, coalesce(s.valid_to + x.lag, x.hi), DATE '{last}') AS hi,
        s.country, s.acquisition_channel, s.plan
    FROM spans x LEFT JOIN states s ON s.customer_key = x.customer_key
        AND s.valid_from + x.lag <= x.hi AND (s.valid_to IS NULL OR s.valid_to + x.lag >= x.lo)),
seg AS (SELECT metric, lo, hi, dimension, segment FROM cut {segments} WHERE lo <= hi),
deltas AS (
    SELECT metric, dimension, segment, lo AS date, count(*) AS delta FROM seg GROUP BY ALL
    UNION ALL SELECT metric, dimension, segment, hi + 1, -count(*) FROM seg GROUP BY ALL
    UNION ALL SELECT g.*, CAST(d.d AS DATE), 0
    FROM (SELECT DISTINCT metric, dimension, segment FROM seg) g,
         range(DATE '{first}', DATE '{last}' + 1, INTERVAL 1 DAY) d(d)),
daily AS (
    SELECT metric, dimension, segment, date,
        sum(sum(delta)) OVER (PARTITION BY metric, dimension, segment ORDER BY date) AS n
    FROM deltas GROUP BY metric, dimension, segment, date)
SELECT date, dimension, segment, {pivot}
FROM daily WHERE date <= DATE '{last}' GROUP BY ALL
"""

SESSIONS = """
CREATE OR REPLACE TEMP TABLE session_counts AS
WITH sd AS (
    SELECT event_date AS date, max(customer_key) AS customer_key,
        count(*) AS events, count(customer_key) AS customer_events,
        bool_or(event_type = 'search') AS s, bool_or(event_type = 'add_to_cart') AS c,
        bool_or(event_type = 'checkout') AS k, bool_or(event_type = 'purchase') AS p,
        count(*) FILTER (WHERE event_type = 'purchase') AS purchases,
        sum(CAST(unit_price * quantity AS DECIMAL(18, 2))) FILTER (WHERE event_type = 'purchase') AS revenue
    FROM {events} WHERE event_date BETWEEN DATE '{first}' AND DATE '{last}'
    GROUP BY session_id, event_date),
st AS (SELECT sd.*, s.country, s.acquisition_channel, s.plan
       FROM sd ASOF LEFT JOIN states s ON s.customer_key = sd.customer_key AND s.valid_from <= sd.date)
SELECT date, dimension, segment, count(*) AS sessions,
    count(*) FILTER (WHERE s) AS search_sessions, count(*) FILTER (WHERE c) AS cart_sessions,
    count(*) FILTER (WHERE k) AS checkout_sessions, count(*) FILTER (WHERE p) AS purchase_sessions,
    sum(purchases) AS purchases, sum(revenue) AS revenue, sum(events) AS events,
    sum(customer_events) AS customer_events
FROM st {segments} GROUP BY ALL
"""

RESULT = """
WITH j AS (
    SELECT * FROM span_counts FULL OUTER JOIN session_counts USING (date, dimension, segment)),
f AS (
    SELECT date, dimension, segment, {counts},
        CAST(coalesce(revenue, 0) AS DECIMAL(18, 2)) AS revenue,
        date - {h} AS churn_label_date,
        CASE WHEN date - {h} - {a} >= DATE '{first_event_day}' THEN CAST(coalesce(churn_base, 0) AS BIGINT) END AS churn_base,
        CASE WHEN date - {h} - {a} >= DATE '{first_event_day}' THEN CAST(coalesce(churned, 0) AS BIGINT) END AS churned
    FROM j)
SELECT date, dimension, segment, active_customers_daily, active_customers_weekly, active_customers_monthly,
    sessions, search_sessions, cart_sessions, checkout_sessions, purchase_sessions,
    {ratio_conversion} AS conversion_rate, purchases, revenue, {ratio_arpu} AS arpu, events, customer_events,
    {ratio_epac} AS events_per_active_customer, {ratio_stickiness} AS stickiness,
    churn_label_date, churn_base, churned, {ratio_churn} AS churn_rate
FROM f WHERE greatest({greatest}, coalesce(churn_base, 0)) > 0
ORDER BY date, dimension, segment
"""


def _ratio(numerator: str, denominator: str) -> str:
    return f"CASE WHEN {denominator} > 0 THEN CAST({numerator} AS DOUBLE) / CAST({denominator} AS DOUBLE) END"


def _result_sql(params: dict) -> str:
    return RESULT.format(
        **params,
        counts=", ".join(f"CAST(coalesce({c}, 0) AS BIGINT) AS {c}" for c in COUNTS),
        greatest=", ".join(COUNTS),
        ratio_conversion=_ratio("purchase_sessions", "sessions"),
        ratio_arpu=_ratio("revenue", "active_customers_daily"),
        ratio_epac=_ratio("customer_events", "active_customers_daily"),
        ratio_stickiness=_ratio("active_customers_daily", "active_customers_monthly"),
        ratio_churn=_ratio("churned", "churn_base"),
    )


def connect(threads: int | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with UTC days (timestamps to dates like Spark's UTC session)."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    return con


def kpi_daily_arrow(
    con: duckdb.DuckDBPyConnection,
    silver_root: str | Path,
    first: dt.date,
    last: dt.date,
    horizon_days: int,
    active_days: int,
) -> pa.Table:
    """kpi_daily rows for first..last as an Arrow table (decimals stay decimals)."""
    events = DeltaTable(str(Path(silver_root) / "events"))
    first_event_day = first_day(events, "event_date")
    lookback = max(max(ACTIVE_WINDOWS.values()) - 1, horizon_days + active_days)
    read_from = max(first_event_day, first - dt.timedelta(days=lookback))
    predicate = f"event_date >= '{read_from}' AND event_date <= '{last}'"
    params = {
        "first": first,
        "last": last,
        "read_from": read_from,
        "first_event_day": first_event_day,
        "h": int(horizon_days),
        "a": int(active_days),
        "events": scan(events, predicate),
        "history": scan(DeltaTable(str(Path(silver_root) / "customer_history"))),
        "segments": SEGMENTS,
        "pivot": ", ".join(
            f"sum(n) FILTER (WHERE metric = '{m}') AS {m}" for m in (*ACTIVE_WINDOWS, "churn_base", "churned")
        ),
    }
    for step in (STATES, ACTIVE, SPANS, SPAN_COUNTS, SESSIONS):
        con.execute(step.format(**params))
    return con.sql(_result_sql(params)).to_arrow_table()


def to_pandas(table: pa.Table) -> pd.DataFrame:
    """Dates as datetime.date, decimals as Decimal, integers as nullable Int64 (churn_base may be NULL)."""
    return table.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)


def kpi_daily(
    silver_root: str | Path,
    first: dt.date,
    last: dt.date,
    horizon_days: int,
    active_days: int,
    threads: int | None = None,
) -> pd.DataFrame:
    """Every column of gold kpi_daily for the days first..last, from the silver Delta tables."""
    con = connect(threads)
    try:
        return to_pandas(kpi_daily_arrow(con, silver_root, first, last, horizon_days, active_days))
    finally:
        con.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.duckdb_kpis", description=__doc__.split("\n")[0])
    parser.add_argument("silver_root", help="the lake's silver folder (holding events/, customer_history/)")
    parser.add_argument("--first", required=True, type=dt.date.fromisoformat)
    parser.add_argument("--last", required=True, type=dt.date.fromisoformat)
    parser.add_argument("--horizon", type=int, default=30, help="gold.churn_horizon_days (conf default 30)")
    parser.add_argument("--active", type=int, default=30, help="gold.churn_active_days (conf default 30)")
    parser.add_argument("--threads", type=int, help="DuckDB threads (default: DuckDB's, all cores)")
    parser.add_argument("--out", help="write the rows to this Parquet file (not timed)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    con = connect(args.threads)
    table = kpi_daily_arrow(con, args.silver_root, args.first, args.last, args.horizon, args.active)
    rows = len(to_pandas(table))
    seconds = time.perf_counter() - started
    threads = con.execute("SELECT current_setting('threads')").fetchone()[0]
    con.close()
    if args.out:
        import pyarrow.parquet as pq

        pq.write_table(table, args.out)
    result = {"engine": "duckdb", "version": duckdb.__version__, "seconds": round(seconds, 3)}
    print(json.dumps({**result, "rows": rows, "threads": int(threads)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
