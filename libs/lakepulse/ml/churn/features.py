"""The churn model's columns: which ones are features, and the one shape training and scoring share.

Training feeds the model through `model_input`, so an integer or decimal
feature reaches the pipeline as the double its MLflow signature declares, and the signature accepts a
missing value in any numeric feature; scoring casts the columns the signature names the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

log = logging.getLogger("lakepulse.ml")

KEYS = ("customer_key", "as_of_date")
LABEL = "label"
SCORE = "score"
NUMERIC_TYPES = (T.ByteType, T.ShortType, T.IntegerType, T.LongType, T.FloatType, T.DoubleType, T.DecimalType)
# Never features: keys, the label and anything derived from the future.
NOT_FEATURES = frozenset({*KEYS, LABEL, SCORE, "churned", "cancelled", "label_date"})


def csv_list(value: str) -> tuple[str, ...]:
    """Settings such as `models.categorical_features` are one comma-separated string in the config."""
    return tuple(v.strip() for v in value.split(",") if v.strip())


@dataclass(frozen=True)
class FeatureSpec:
    """The model's input columns; `with_missing` numeric columns also get a 0/1 missing indicator."""

    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    with_missing: tuple[str, ...] = ()

    @property
    def inputs(self) -> tuple[str, ...]:
        return (*self.numeric, *self.categorical)


def feature_columns(
    schema: T.StructType, categorical: Sequence[str]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(numeric, categorical) feature columns of a features table: every numeric column is a feature;
    strings only when listed in `models.categorical_features` (free text such as a city would not be)."""
    numeric = tuple(
        f.name for f in schema.fields if isinstance(f.dataType, NUMERIC_TYPES) and f.name not in NOT_FEATURES
    )
    names = {f.name: f.dataType for f in schema.fields}
    cats = tuple(c for c in categorical if isinstance(names.get(c), T.StringType))
    return numeric, cats


def model_input(df: DataFrame, spec: FeatureSpec, keep: Sequence[str] = ()) -> DataFrame:
    """Keys, features (every numeric one as a double, so the signature allows a missing value anywhere)
    and the label when present. Training and scoring both go through here: same shapes for the model."""
    kinds = dict(df.dtypes)
    cols = [F.col(k) for k in KEYS if k in kinds]
    cols += [F.col(c).cast("double").alias(c) for c in spec.numeric]
    cols += [F.col(c) for c in spec.categorical]
    cols += [F.col(c) for c in keep if c not in spec.inputs and c in kinds]
    if LABEL in kinds:
        cols.append(F.col(LABEL))
    return df.select(*cols)


def with_missing_indicators(train: DataFrame, spec: FeatureSpec) -> FeatureSpec:
    """Numeric features with some nulls in the training rows get an indicator; features with nothing
    but nulls there (no weather feed, a transactions file without plans) are dropped: there is nothing
    to learn from or to impute with. One aggregation, one row."""
    columns = spec.inputs
    if not columns:
        return spec
    row = train.agg(
        F.count(F.lit(1)).alias("_rows"), *[F.sum(F.col(c).isNull().cast("long")).alias(c) for c in columns]
    ).first()
    dropped = sorted(c for c in columns if row[c] == row["_rows"])
    if dropped:
        log.warning("churn: features with no value in the training rows, not used: %s", ", ".join(dropped))
    numeric = tuple(c for c in spec.numeric if c not in dropped)
    categorical = tuple(c for c in spec.categorical if c not in dropped)
    return FeatureSpec(numeric, categorical, tuple(c for c in numeric if row[c]))
