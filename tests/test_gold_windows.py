"""`windows.framed` against a brute-force pandas sum/max over the same rows, frame by frame."""

from __future__ import annotations

import datetime as dt
import decimal
import random

import pandas as pd
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakepulse.gold.windows import Frame, framed

START = dt.date(2026, 1, 1)
FRAMES = (
    Frame("n_7", "n", -7, -1),
    Frame("n_0_3", "n", 0, 3),  # ahead of the anchor
    Frame("n_back", "n", -12, -5),
    Frame("n_all", "n", None, -1),
    Frame("money_30", "money", -30, -1),
    Frame("ratio_7", "ratio", -7, -1),  # a double: summed over the frame itself
    Frame("n_max_7", "n", -7, -1, how="max"),
)


def _rows(seed: int = 7) -> tuple[list[tuple], list[tuple]]:
    rng = random.Random(seed)
    daily, anchors = [], []
    for key in ("a", "b", "c"):
        for _ in range(120):  # several rows on some days, none on others, nulls in every source
            day = START + dt.timedelta(days=rng.randrange(60))
            n = None if rng.random() < 0.1 else rng.randrange(-3, 50)
            money = None if rng.random() < 0.1 else decimal.Decimal(rng.randrange(-10000, 90000)) / 100
            ratio = None if rng.random() < 0.1 else rng.random()
            daily.append((key, day, n, money, ratio))
        anchors += [(key, START + dt.timedelta(days=d), f"{key}{d}") for d in range(-5, 70, 3)]
    return daily, anchors


def _oracle(daily: pd.DataFrame, anchors: pd.DataFrame) -> pd.DataFrame:
    out = []
    for _, a in anchors.iterrows():
        rows = daily[daily["key"] == a["key"]]
        offset = (rows["day"] - a["as_of"]).map(lambda d: d.days)
        record = {"label": a["label"]}
        for f in FRAMES:
            inside = rows[((offset >= f.lo) if f.lo is not None else True) & (offset <= f.hi)][f.source]
            values = [v for v in inside if v is not None and not pd.isna(v)]
            if f.how == "max":
                record[f.name] = max(values) if values else None
            else:
                record[f.name] = sum(values, decimal.Decimal(0) if f.source == "money" else 0)
        out.append(record)
    return pd.DataFrame(out)


def test_framed_sums_and_maxima_match_brute_force(spark):
    daily_rows, anchor_rows = _rows()
    daily = spark.createDataFrame(
        daily_rows,
        T.StructType(
            [
                T.StructField("key", T.StringType()),
                T.StructField("day", T.DateType()),
                T.StructField("n", T.IntegerType()),
                T.StructField("money", T.DecimalType(12, 2)),
                T.StructField("ratio", T.DoubleType()),
            ]
        ),
    )
    anchors = spark.createDataFrame(anchor_rows, "key string, as_of date, label string")
    got = (
        framed(daily, anchors, ["key"], "day", "as_of", FRAMES)
        .select("label", *[F.col(f.name) for f in FRAMES])
        .toPandas()
        .sort_values("label")
        .reset_index(drop=True)
    )
    expected = (
        _oracle(
            pd.DataFrame(daily_rows, columns=["key", "day", "n", "money", "ratio"]),
            pd.DataFrame(anchor_rows, columns=["key", "as_of", "label"]),
        )
        .sort_values("label")
        .reset_index(drop=True)
    )
    assert list(got["label"]) == list(expected["label"])
    for f in FRAMES:
        for label, g, e in zip(got["label"], got[f.name], expected[f.name], strict=True):
            if f.source == "ratio":
                assert abs(g - e) < 1e-9, (f.name, label, g, e)
            elif e is None or pd.isna(e):
                assert g is None or pd.isna(g), (f.name, label, g)
            else:
                assert g == e, (f.name, label, g, e)
    # The declared types of the sums stay those of Spark's own sum.
    types = dict(framed(daily, anchors, ["key"], "day", "as_of", FRAMES).dtypes)
    assert types["n_7"] == "bigint"
    assert types["money_30"] == "decimal(22,2)"
