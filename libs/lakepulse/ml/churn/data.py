"""The churn model's labelled rows and their time-based split.

The label is gold/churn_labels (`lakepulse.gold.churn_label`, docs/gold.md), read at the pinned version
the run logs: an active customer as of D churns when they cancel or show no event in [D, D + horizon).
Features as of D use only what happened before D, the label only what happened on or after D, so a row
never sees its own label. The model reads gold only; the features job writes both tables.

Time-based split: the labelled as-of dates (every `models.as_of_every_days`-th, counted back from the
latest) are cut into train, validation and test by date. At least `models.split_gap_days` (default:
the horizon) separate the last training date from the first validation date, so no training label
window reaches into a validation or test one: that is what a model retrained on day T can know, since
labels as of T - horizon are the last complete ones.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lakepulse.config import Config
from lakepulse.errors import LakepulseError
from lakepulse.ml.churn.features import KEYS, LABEL, FeatureSpec, csv_list, feature_columns, model_input


def labels_for(labels: DataFrame, first: dt.date, last: dt.date) -> DataFrame:
    """(customer_key, as_of_date, label, cancelled) from gold/churn_labels for label dates in [first, last]."""
    return labels.filter(F.col("label_date").between(F.lit(first), F.lit(last))).select(
        "customer_key",
        F.col("label_date").alias("as_of_date"),
        F.col("churned").cast("double").alias(LABEL),
        "cancelled",
    )


def sample_dates(dates: Sequence[dt.date], every_days: int) -> list[dt.date]:
    """Every `every_days`-th date counted back from the latest (the latest is always kept), because a
    customer's rows on consecutive days are near-duplicates that add cost, not information."""
    if not dates:
        return []
    last = max(dates)
    return sorted(d for d in set(dates) if (last - d).days % max(every_days, 1) == 0)


@dataclass(frozen=True)
class Split:
    train: tuple[dt.date, ...]
    validation: tuple[dt.date, ...]
    test: tuple[dt.date, ...]
    gap_days: int

    def describe(self) -> dict[str, str]:
        def span(ds: Sequence[dt.date]) -> str:
            return f"{ds[0]}..{ds[-1]} ({len(ds)} dates)"

        return {
            "split_train": span(self.train),
            "split_validation": span(self.validation),
            "split_test": span(self.test),
            "split_gap_days": str(self.gap_days),
        }


def time_split(
    dates: Sequence[dt.date], validation_fraction: float, test_fraction: float, gap_days: int
) -> Split:
    """Train on the earliest dates, validate and test on later ones, `gap_days` apart.

    The fractions apply to the date range less the gap, so a short history still gets all three parts;
    a range too short for the gap is an error naming the setting, never a silent leak.
    """
    ds = sorted(set(dates))
    if len(ds) < 3:
        raise LakepulseError(
            f"churn: {len(ds)} labelled as-of date(s) ({', '.join(map(str, ds)) or 'none'}); a time split "
            "needs at least 3: generate or ingest more days (generate.days), or lower models.as_of_every_days"
        )
    first, last = ds[0], ds[-1]
    usable = (last - first).days - gap_days
    if usable < 2:
        raise LakepulseError(
            f"churn: labelled as-of dates span {first}..{last} ({(last - first).days} days), too short for a "
            f"{gap_days}-day gap between training and validation (models.split_gap_days); generate or ingest "
            f"at least {gap_days + 2 - (last - first).days} more days"
        )
    train_end = first + dt.timedelta(days=math.floor(usable * (1 - validation_fraction - test_fraction)))
    validation_start = train_end + dt.timedelta(days=gap_days)
    test_start = validation_start + dt.timedelta(days=math.ceil(usable * validation_fraction))
    split = Split(
        train=tuple(d for d in ds if d <= train_end),
        validation=tuple(d for d in ds if validation_start <= d < test_start),
        test=tuple(d for d in ds if d >= test_start),
        gap_days=gap_days,
    )
    for name in ("train", "validation", "test"):
        if not getattr(split, name):
            raise LakepulseError(
                f"churn: no {name} as-of date in {first}..{last} with a {gap_days}-day gap "
                f"(dates every {(ds[1] - ds[0]).days} days; models.as_of_every_days, validation_fraction, "
                "test_fraction and split_gap_days decide the split)"
            )
    return split


@dataclass(frozen=True)
class TrainingData:
    rows: DataFrame  # labelled model input on the sampled as-of dates
    features: DataFrame  # gold/customer_features at the pinned version
    versions: dict[str, int]
    spec: FeatureSpec
    split: Split
    tables: dict[str, DataFrame] = field(default_factory=dict)  # the pinned gold tables, by versions' names


def load_training_data(spark: SparkSession, config: Config) -> TrainingData:
    """Labelled, sampled model input for every split date, with the table versions it came from."""
    from lakepulse.ml.tracking import read_pinned

    features, features_version = read_pinned(spark, config, "gold", "customer_features")
    labels, labels_version = read_pinned(spark, config, "gold", "churn_labels")
    # Bounded collects: one row per as-of date, one per label date.
    dates = {r[0] for r in features.select("as_of_date").distinct().collect()}
    if not dates:
        raise LakepulseError("churn: gold/customer_features is empty: run the features job first")
    labels = check_label_settings(labels, config)
    labelled = {r[0] for r in labels.select("label_date").distinct().collect()}
    labelled_dates = sorted(dates & labelled)
    if not labelled_dates:
        gold = config.gold
        raise LakepulseError(
            f"churn: features cover as-of dates {min(dates)}..{max(dates)} but gold/churn_labels holds "
            f"{_span(labelled)} ({gold.churn_active_days} days of look-back and a {gold.churn_horizon_days}-day "
            "horizon in silver per label date): run the features job, or generate or ingest more days"
        )
    chosen = sample_dates(labelled_dates, config.models.as_of_every_days)
    split = split_for(chosen, config)
    numeric, categorical = feature_columns(features.schema, csv_list(config.models.categorical_features))
    spec = FeatureSpec(numeric, categorical)
    segments = [c for c in csv_list(config.models.fairness_segments) if c in features.columns]
    rows = features.filter(F.col("as_of_date").isin(*chosen)).join(
        labels_for(labels, min(chosen), max(chosen)), on=list(KEYS), how="inner"
    )
    data = model_input(rows, spec, keep=segments)
    versions = {"gold/customer_features": features_version, "gold/churn_labels": labels_version}
    tables = {"gold/customer_features": features, "gold/churn_labels": labels}
    return TrainingData(data, features, versions, spec, split, tables)


def check_label_settings(labels: DataFrame, config: Config) -> DataFrame:
    """The labels, checked to be computed with the configured look-back and horizon: a training logs
    those settings, and labels of another definition would silently train a different model."""
    gold = config.gold
    other = labels.filter(
        (F.col("horizon_days") != F.lit(gold.churn_horizon_days))
        | (F.col("active_days") != F.lit(gold.churn_active_days))
    )
    found = other.select("label_date", "horizon_days", "active_days").limit(1).collect()  # bounded: one row
    if found:
        r = found[0]
        raise LakepulseError(
            f"churn: gold/churn_labels as of {r['label_date']} was computed with horizon {r['horizon_days']} and "
            f"look-back {r['active_days']} days, but gold.churn_horizon_days={gold.churn_horizon_days} and "
            f"gold.churn_active_days={gold.churn_active_days}: recompute it (features --tables churn_labels "
            "--from <its first label date>) or use the settings it was computed with"
        )
    return labels


def _span(dates: set[dt.date]) -> str:
    return f"label dates {min(dates)}..{max(dates)}" if dates else "no label yet"


def split_for(dates: Sequence[dt.date], config: Config) -> Split:
    """The configured time split; when the history is too short, the error also says how many days of
    data the label settings and the gap call for, since that is what a user can change."""
    gap = config.gold.churn_horizon_days if config.models.split_gap_days < 0 else config.models.split_gap_days
    try:
        return time_split(dates, config.models.validation_fraction, config.models.test_fraction, gap)
    except LakepulseError as exc:
        # Look-back and horizon around the labelled dates, the gap, and a few dates for each part.
        need = (
            config.gold.churn_active_days
            + config.gold.churn_horizon_days
            + gap
            + 6 * config.models.as_of_every_days
        )
        raise LakepulseError(
            f"{exc}; with gold.churn_active_days={config.gold.churn_active_days}, "
            f"gold.churn_horizon_days={config.gold.churn_horizon_days} and a {gap}-day gap the history needs "
            f"about {need} days or more"
        ) from None


@dataclass(frozen=True)
class SplitRows:
    """The labelled rows and their three parts, cached: the label join runs once, and every hyperopt
    trial then reads its split from memory instead of recomputing the join."""

    labelled: DataFrame
    train: DataFrame
    validation: DataFrame
    test: DataFrame

    @classmethod
    def cache(cls, rows: DataFrame, split: Split) -> SplitRows:
        labelled = rows.persist()
        train, validation, test = (
            labelled.filter(F.col("as_of_date").isin(*dates)).persist()
            for dates in (split.train, split.validation, split.test)
        )
        return cls(labelled, train, validation, test)

    def sizes(self) -> dict[str, float]:
        parts = (("train", self.train), ("validation", self.validation), ("test", self.test))
        return {f"{name}_rows": float(df.count()) for name, df in parts}

    def unpersist(self) -> None:
        for df in (self.labelled, self.train, self.validation, self.test):
            df.unpersist()
