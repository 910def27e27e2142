"""Churn model: gold/customer_features joined to the churn label, Spark ML pipelines tuned with hyperopt.

The label is `lakepulse.gold.churn_label` (docs/gold.md), computed here from the same pinned
silver/events version the run logs: an active customer as of D churns when they cancel or show no event
in [D, D + horizon). Features as of D use only what happened before D, the label only what happened on
or after D, so a row never sees its own label.

Time-based split: the labelled as-of dates (every `models.as_of_every_days`-th, counted back from the
latest) are cut into train, validation and test by date. At least `models.split_gap_days` (default:
the horizon) separate the last training date from the first validation date, so no training label
window reaches into a validation or test one: that is what a model retrained on day T can know, since
labels as of T - horizon are the last complete ones.

Model families: logistic regression and gradient-boosted trees, both Spark ML pipelines (numeric
features imputed with missing indicators, categories one-hot encoded). Hyperopt runs its TPE search
with plain `Trials`, a driver-side loop in which each trial fits a distributed Spark ML pipeline and
is one nested MLflow run under the training's parent run. `SparkTrials` is not used: it runs each
trial inside a Spark task, where a Spark ML fit (itself Spark jobs) cannot run.

Evaluation uses Spark aggregations only: ROC and PR AUC (BinaryClassificationEvaluator), log loss,
top-decile lift, expected calibration error, and curves from a 100-bin score histogram (a bounded
collect of at most 101 rows).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.classification import GBTClassifier, LogisticRegression
from pyspark.ml.evaluation import BinaryClassificationEvaluator
from pyspark.ml.feature import (
    Imputer,
    OneHotEncoder,
    SQLTransformer,
    StandardScaler,
    StringIndexer,
    VectorAssembler,
)
from pyspark.ml.functions import vector_to_array
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakepulse.config import Config
from lakepulse.errors import LakepulseError

log = logging.getLogger("lakepulse.models")

MODEL_NAME = "lakepulse-churn"
TEST_METRIC = "test_roc_auc"  # higher is better
KEYS = ("customer_key", "as_of_date")
LABEL = "label"
SCORE = "score"
FAMILIES = ("logistic_regression", "gradient_boosted_trees")
CURVE_BINS = 100
CALIBRATION_BINS = 10
EPS = 1e-7
NUMERIC_TYPES = (T.ByteType, T.ShortType, T.IntegerType, T.LongType, T.FloatType, T.DoubleType, T.DecimalType)
# Never features: keys, the label and anything derived from the future.
NOT_FEATURES = frozenset({*KEYS, LABEL, SCORE, "churned", "cancelled", "label_date"})


def csv_list(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


# --------------------------------------------------------------------------------------------------
# Features and labels


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


def labels_for(spark: SparkSession, config: Config, events: DataFrame, first: dt.date, last: dt.date):
    """(customer_key, as_of_date, label, cancelled) from gold's churn label on the given events, and the
    DayRange of label dates it covers.

    `events` is the pinned silver/events; only the days the label window needs are read. Raises when
    silver cannot support any label date in [first, last].
    """
    from lakepulse.gold import churn_label
    from lakepulse.gold.planner import DayRange

    gold = config.gold
    supported = churn_label.labelable_days(spark, config)
    if supported is None:
        raise LakepulseError("churn: silver/events has no day with a full look-back and horizon to label")
    start, end = max(first, supported.start), min(last, supported.end)
    if start > end:
        raise LakepulseError(
            f"churn: features cover as-of dates {first}..{last} but labels need dates in {supported} "
            f"({gold.churn_active_days} days of look-back and a {gold.churn_horizon_days}-day horizon in silver)"
        )
    days = DayRange(start, end)
    window = churn_label.events_needed(days, gold.churn_horizon_days, gold.churn_active_days)
    needed = events.filter(window.contains("event_date")).select("customer_key", "event_date", "event_type")
    labels = churn_label.activity(needed).transform(
        churn_label.churn_labels(days, gold.churn_horizon_days, gold.churn_active_days)
    )
    out = labels.select(
        "customer_key",
        F.col("label_date").alias("as_of_date"),
        F.col("churned").cast("double").alias(LABEL),
        "cancelled",
    )
    return out, days


def sample_dates(dates: Sequence[dt.date], every_days: int) -> list[dt.date]:
    """Every `every_days`-th date counted back from the latest (the latest is always kept)."""
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


# --------------------------------------------------------------------------------------------------
# Pipelines


def _q(name: str) -> str:
    return f"`{name}`"


def build_pipeline(spec: FeatureSpec, family: str, params: dict, seed: int) -> Pipeline:
    """Raw feature columns in, `probability` out: one self-contained pipeline that scoring loads as is."""
    casts = [f"CAST({_q(c)} AS DOUBLE) AS {_q(c + '__v')}" for c in spec.numeric]
    flags = [
        f"CASE WHEN {_q(c)} IS NULL THEN 1.0 ELSE 0.0 END AS {_q(c + '__missing')}" for c in spec.with_missing
    ]
    stages = [SQLTransformer(statement=f"SELECT *, {', '.join([*casts, *flags])} FROM __THIS__")]
    numeric = [c + "__v" for c in spec.numeric]
    imputed = [c + "__i" for c in spec.numeric]
    if numeric:
        stages.append(Imputer(inputCols=numeric, outputCols=imputed, strategy="median"))
    onehot = [c + "__onehot" for c in spec.categorical]
    if spec.categorical:
        indexed = [c + "__idx" for c in spec.categorical]
        stages.append(
            StringIndexer(inputCols=list(spec.categorical), outputCols=indexed, handleInvalid="keep")
        )
        stages.append(OneHotEncoder(inputCols=indexed, outputCols=onehot, handleInvalid="keep"))
    assembled = [*imputed, *[c + "__missing" for c in spec.with_missing], *onehot]
    if family == "logistic_regression":
        stages.append(VectorAssembler(inputCols=assembled, outputCol="raw_features"))
        # Scaled explicitly (not via standardization=True) so the coefficients are comparable importances.
        stages.append(
            StandardScaler(inputCol="raw_features", outputCol="features", withMean=False, withStd=True)
        )
        stages.append(
            LogisticRegression(
                labelCol=LABEL,
                featuresCol="features",
                regParam=float(params["regParam"]),
                elasticNetParam=float(params["elasticNetParam"]),
                standardization=False,
                maxIter=100,
            )
        )
    elif family == "gradient_boosted_trees":
        stages.append(VectorAssembler(inputCols=assembled, outputCol="features"))
        stages.append(
            GBTClassifier(
                labelCol=LABEL,
                featuresCol="features",
                maxDepth=int(params["maxDepth"]),
                maxIter=int(params["maxIter"]),
                stepSize=float(params["stepSize"]),
                subsamplingRate=float(params["subsamplingRate"]),
                minInstancesPerNode=int(params["minInstancesPerNode"]),
                seed=seed,
            )
        )
    else:
        raise ValueError(f"unknown model family {family!r}")
    return Pipeline(stages=stages)


def search_space(family: str, gbt_max_iter: int):
    from hyperopt import hp
    from hyperopt.pyll import scope

    if family == "logistic_regression":
        return {
            "regParam": hp.loguniform("regParam", math.log(1e-4), math.log(0.3)),
            "elasticNetParam": hp.uniform("elasticNetParam", 0.0, 1.0),
        }
    top = max(gbt_max_iter, 4)
    low = max(2, min(10, top // 2))
    return {
        "maxDepth": scope.int(hp.quniform("maxDepth", 2, 5, 1)),
        "maxIter": scope.int(hp.quniform("maxIter", low, top, 5 if top - low >= 10 else 1)),
        "stepSize": hp.loguniform("stepSize", math.log(0.03), math.log(0.3)),
        "subsamplingRate": hp.uniform("subsamplingRate", 0.6, 1.0),
        "minInstancesPerNode": scope.int(hp.quniform("minInstancesPerNode", 1, 20, 1)),
    }


def with_score(predictions: DataFrame) -> DataFrame:
    """The probability of churn as a plain double column (`score`)."""
    return predictions.withColumn(SCORE, vector_to_array(F.col("probability")).getItem(1))


def feature_importances(
    model: PipelineModel, predictions_schema: T.StructType
) -> tuple[list[str], list[float]]:
    """Names from the assembled vector's ML attributes; |standardised coefficient| or tree importance."""
    meta = predictions_schema["features"].metadata.get("ml_attr", {})
    if not meta:
        meta = predictions_schema["raw_features"].metadata.get("ml_attr", {})
    names: dict[int, str] = {}
    for group in meta.get("attrs", {}).values():
        for attr in group:
            names[int(attr["idx"])] = attr["name"].replace("__i", "").replace("__onehot_", "=")
    last = model.stages[-1]
    if hasattr(last, "coefficients"):
        values = [abs(v) for v in last.coefficients.toArray()]
    else:
        values = list(last.featureImportances.toArray())
    return [names.get(i, f"f{i}") for i in range(len(values))], values


# --------------------------------------------------------------------------------------------------
# Metrics (Spark aggregations)


def roc_auc(df: DataFrame, score: str = SCORE, label: str = LABEL) -> float:
    evaluator = BinaryClassificationEvaluator(
        rawPredictionCol=score, labelCol=label, metricName="areaUnderROC"
    )
    return float(evaluator.evaluate(df.select(F.col(score).cast("double").alias(score), F.col(label))))


def pr_auc(df: DataFrame, score: str = SCORE, label: str = LABEL) -> float:
    evaluator = BinaryClassificationEvaluator(
        rawPredictionCol=score, labelCol=label, metricName="areaUnderPR"
    )
    return float(evaluator.evaluate(df.select(F.col(score).cast("double").alias(score), F.col(label))))


def score_histogram(
    df: DataFrame, score: str = SCORE, label: str = LABEL, bins: int = CURVE_BINS
) -> list[dict]:
    """Per score bin (probabilities in [0, 1]): positives, negatives and the sum of scores.

    Bounded collect: at most `bins` + 1 rows whatever the data size.
    """
    b = F.least(F.floor(F.col(score) * bins), F.lit(bins - 1)).cast("int")
    rows = (
        df.groupBy(b.alias("bin"))
        .agg(
            F.sum(F.col(label)).alias("pos"),
            F.sum(1 - F.col(label)).alias("neg"),
            F.sum(F.col(score)).alias("score_sum"),
        )
        .orderBy("bin")
        .collect()
    )
    return [
        {"bin": r["bin"], "pos": float(r["pos"]), "neg": float(r["neg"]), "score_sum": float(r["score_sum"])}
        for r in rows
    ]


def curves(histogram: Sequence[dict]) -> dict[str, list[float]]:
    """ROC and PR points from a score histogram, thresholds from the highest bin down."""
    pos_total = sum(h["pos"] for h in histogram)
    neg_total = sum(h["neg"] for h in histogram)
    tp = fp = 0.0
    fpr, tpr, recall, precision = [0.0], [0.0], [], []
    for h in sorted(histogram, key=lambda r: -r["bin"]):
        tp += h["pos"]
        fp += h["neg"]
        fpr.append(fp / neg_total if neg_total else 0.0)
        tpr.append(tp / pos_total if pos_total else 0.0)
        recall.append(tp / pos_total if pos_total else 0.0)
        precision.append(tp / (tp + fp) if tp + fp else 1.0)
    return {"fpr": fpr, "tpr": tpr, "recall": recall, "precision": precision}


def calibration(histogram: Sequence[dict], bins: int = CALIBRATION_BINS) -> list[dict]:
    """Reliability bins (mean predicted, observed rate, rows), merged from the finer histogram."""
    merged: dict[int, dict] = {}
    fine = max(h["bin"] for h in histogram) + 1 if histogram else CURVE_BINS
    fine = max(fine, CURVE_BINS)
    for h in histogram:
        key = min(h["bin"] * bins // fine, bins - 1)
        m = merged.setdefault(key, {"pos": 0.0, "n": 0.0, "score_sum": 0.0})
        m["pos"] += h["pos"]
        m["n"] += h["pos"] + h["neg"]
        m["score_sum"] += h["score_sum"]
    return [
        {"bin": k, "mean_predicted": m["score_sum"] / m["n"], "observed": m["pos"] / m["n"], "rows": m["n"]}
        for k, m in sorted(merged.items())
        if m["n"] > 0
    ]


def expected_calibration_error(
    df: DataFrame, score: str = SCORE, label: str = LABEL, bins: int = CALIBRATION_BINS
) -> float:
    """Sum over equal-width probability bins of (bin share) x |observed rate - mean predicted|."""
    b = F.least(F.floor(F.col(score) * bins), F.lit(bins - 1))
    per_bin = df.groupBy(b.alias("bin")).agg(
        F.count("*").alias("n"), F.avg(F.col(label)).alias("observed"), F.avg(F.col(score)).alias("predicted")
    )
    total = per_bin.agg(F.sum("n")).first()[0]
    if not total:
        return float("nan")
    value = per_bin.agg(F.sum(F.col("n") * F.abs(F.col("observed") - F.col("predicted")))).first()[0]
    return float(value) / float(total)


def top_decile_lift(df: DataFrame, score: str = SCORE, label: str = LABEL) -> float:
    """Churn rate among the 10% highest scores over the overall churn rate.

    The cut is an approximate 90th percentile (relative error 1e-4); ties at the cut all count as top.
    """
    cut = df.approxQuantile(score, [0.9], 1e-4)
    if not cut:
        return float("nan")
    row = df.agg(
        F.avg(F.col(label)).alias("base"),
        F.avg(F.when(F.col(score) >= F.lit(cut[0]), F.col(label))).alias("top"),
    ).first()
    return float(row["top"]) / float(row["base"]) if row["base"] else float("nan")


def log_loss(df: DataFrame, score: str = SCORE, label: str = LABEL) -> float:
    p = F.least(F.greatest(F.col(score), F.lit(EPS)), F.lit(1 - EPS))
    y = F.col(label)
    return float(df.agg(F.avg(-(y * F.log(p) + (1 - y) * F.log(1 - p)))).first()[0])


def binary_metrics(
    df: DataFrame, score: str = SCORE, label: str = LABEL, prefix: str = ""
) -> dict[str, float]:
    counts = df.agg(F.count("*").alias("n"), F.sum(F.col(label)).alias("pos")).first()
    return {
        f"{prefix}roc_auc": roc_auc(df, score, label),
        f"{prefix}pr_auc": pr_auc(df, score, label),
        f"{prefix}log_loss": log_loss(df, score, label),
        f"{prefix}top_decile_lift": top_decile_lift(df, score, label),
        f"{prefix}calibration_error": expected_calibration_error(df, score, label),
        f"{prefix}rows": float(counts["n"]),
        f"{prefix}churn_rate": float(counts["pos"]) / float(counts["n"]) if counts["n"] else float("nan"),
    }


# --------------------------------------------------------------------------------------------------
# Planted truth (generated data only)


def truth_path(config: Config) -> str:
    return f"{config.paths.landing.rstrip('/')}/_truth/churn.csv"


def truth_probabilities(spark: SparkSession, config: Config) -> DataFrame | None:
    """(customer_key, true_probability, churn_date) from landing/_truth/churn.csv (generated data only),
    ids pseudonymised like silver's. A customer who churned inside the period has no probability."""
    from lakepulse import delta_io
    from lakepulse.privacy import pseudonym_key, pseudonymise

    folder = truth_path(config).rsplit("/", 1)[0]
    if not any(p.rstrip("/").endswith("/churn.csv") for p in delta_io.list_children(spark, folder)):
        return None
    raw = spark.read.option("header", True).csv(truth_path(config))
    return raw.select(
        pseudonymise("customer_id", pseudonym_key(config)).alias("customer_key"),
        F.col("churn_probability").cast("double").alias("true_probability"),
        F.try_to_date(F.col("churn_date"), "yyyy-MM-dd").alias("churn_date"),
    )


def truth_period(spark: SparkSession, config: Config) -> tuple[dt.date | None, int]:
    """(last generated day, horizon of the planted probabilities) from manifest.json; without one, no
    day (the caller falls back to silver's last event day) and the label's horizon."""
    from lakepulse import delta_io

    folder = truth_path(config).rsplit("/", 1)[0]
    if not any(p.rstrip("/").endswith("/manifest.json") for p in delta_io.list_children(spark, folder)):
        return None, config.gold.churn_horizon_days
    manifest = spark.read.option("multiLine", True).json(f"{folder}/manifest.json")
    row = manifest.first()  # one row: the manifest object
    fields = manifest.columns
    horizon = (
        int(row["churn_horizon_days"]) if "churn_horizon_days" in fields else config.gold.churn_horizon_days
    )
    end = None
    if "period" in fields and row["period"] is not None and row["period"]["end"]:
        end = dt.date.fromisoformat(row["period"]["end"])
    return end, horizon


def active_customers(events: DataFrame, as_of: dt.date, active_days: int) -> DataFrame:
    """(customer_key) with an event in the `active_days` days before `as_of`: whom the label applies to."""
    from lakepulse.gold import churn_label

    since = as_of - dt.timedelta(days=active_days)
    window = events.filter((F.col("event_date") >= F.lit(since)) & (F.col("event_date") < F.lit(as_of)))
    return (
        churn_label.activity(window.select("customer_key", "event_date", "event_type"))
        .select("customer_key")
        .distinct()
    )


# --------------------------------------------------------------------------------------------------
# Training


@dataclass
class Trial:
    family: str
    params: dict
    run_id: str
    validation: dict[str, float]
    model: PipelineModel | None = field(default=None, repr=False)


@dataclass(frozen=True)
class ChurnRun:
    run_id: str
    promotion: object  # registry.Promotion
    best_family: str
    metrics: dict[str, float]
    fairness_flags: tuple[str, ...]
    fairness_lines: tuple[str, ...]
    split: Split


def tune_family(
    family: str, train: DataFrame, validation: DataFrame, spec: FeatureSpec, config: Config
) -> list[Trial]:
    """Hyperopt TPE over one family; every trial is a nested MLflow run. Returns the trials, best first."""
    import mlflow
    import numpy as np
    from hyperopt import STATUS_OK, Trials, fmin, tpe

    trials: list[Trial] = []

    def objective(params: dict) -> dict:
        with mlflow.start_run(run_name=f"{family}-{len(trials) + 1}", nested=True) as run:
            mlflow.set_tags({"lakepulse.family": family, "lakepulse.trial": str(len(trials) + 1)})
            mlflow.log_params({"family": family, **params})
            model = build_pipeline(spec, family, params, config.models.seed).fit(train)
            # Scored once for the three metrics (each is its own pass), not once per metric.
            scored = with_score(model.transform(validation)).select(SCORE, LABEL).persist()
            try:
                metrics = {
                    "validation_roc_auc": roc_auc(scored),
                    "validation_pr_auc": pr_auc(scored),
                    "validation_log_loss": log_loss(scored),
                }
            finally:
                scored.unpersist()
            mlflow.log_metrics(metrics)
        trial = Trial(family, dict(params), run.info.run_id, metrics, model)
        trials.append(trial)
        best = max(trials, key=lambda t: t.validation["validation_roc_auc"])
        for t in trials:  # keep only the best model of the family in memory
            if t is not best:
                t.model = None
        return {"loss": -metrics["validation_roc_auc"], "status": STATUS_OK}

    fmin(
        objective,
        search_space(family, config.models.gbt_max_iter),
        algo=tpe.suggest,
        max_evals=max(config.models.max_evals, 1),
        trials=Trials(),
        rstate=np.random.default_rng(config.models.seed),
        show_progressbar=False,
    )
    return sorted(trials, key=lambda t: -t.validation["validation_roc_auc"])


@dataclass(frozen=True)
class TrainingData:
    rows: DataFrame  # labelled model input on the sampled as-of dates
    features: DataFrame  # gold/customer_features at the pinned version
    events: DataFrame  # silver/events at the pinned version
    versions: dict[str, int]
    spec: FeatureSpec
    split: Split


def load_training_data(spark: SparkSession, config: Config) -> TrainingData:
    """Labelled, sampled model input for every split date, with the table versions it came from."""
    from lakepulse.models.tracking import read_pinned

    features, features_version = read_pinned(spark, config, "gold", "customer_features")
    events, events_version = read_pinned(spark, config, "silver", "events")
    # Bounded collect: one row per as-of date.
    dates = [r[0] for r in features.select("as_of_date").distinct().collect()]
    if not dates:
        raise LakepulseError("churn: gold/customer_features is empty: run the features job first")
    labels, label_days = labels_for(spark, config, events, min(dates), max(dates))
    labelled_dates = [d for d in dates if label_days.start <= d <= label_days.end]
    chosen = sample_dates(labelled_dates, config.models.as_of_every_days)
    gap = config.gold.churn_horizon_days if config.models.split_gap_days < 0 else config.models.split_gap_days
    try:
        split = time_split(chosen, config.models.validation_fraction, config.models.test_fraction, gap)
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
    numeric, categorical = feature_columns(features.schema, csv_list(config.models.categorical_features))
    spec = FeatureSpec(numeric, categorical)
    segments = [c for c in csv_list(config.models.fairness_segments) if c in features.columns]
    rows = features.filter(F.col("as_of_date").isin(*chosen)).join(labels, on=list(KEYS), how="inner")
    data = model_input(rows, spec, keep=segments)
    versions = {"gold/customer_features": features_version, "silver/events": events_version}
    return TrainingData(data, features, events, versions, spec, split)


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


def train(spark: SparkSession, config: Config) -> ChurnRun:
    """Tunes both families, tests the best, audits fairness, compares with truth, registers and promotes."""
    import mlflow
    from mlflow import MlflowClient
    from mlflow.models import infer_signature

    from lakepulse.models import fairness, plots, registry, tracking

    tracking.setup_mlflow(config)
    data = load_training_data(spark, config)
    split = data.split
    # The label join runs once; every trial then reads its split from memory.
    labelled = data.rows.persist()
    train_rows = labelled.filter(F.col("as_of_date").isin(*split.train)).persist()
    validation_rows = labelled.filter(F.col("as_of_date").isin(*split.validation)).persist()
    test_rows = labelled.filter(F.col("as_of_date").isin(*split.test)).persist()
    try:
        sizes = {
            f"{name}_rows": float(df.count())
            for name, df in (("train", train_rows), ("validation", validation_rows), ("test", test_rows))
        }
        labelled.unpersist()
        spec = with_missing_indicators(train_rows, data.spec)
        data = dataclasses.replace(data, spec=spec)
        if min(sizes.values()) == 0:
            raise LakepulseError(
                f"churn: an empty split ({sizes}); the features have no customer on those dates"
            )
        with mlflow.start_run(run_name="train_churn") as parent:
            run_id = parent.info.run_id
            mlflow.set_tags({"lakepulse.job": "train_churn", "lakepulse.env": config.env})
            mlflow.log_params(
                {
                    "label": (
                        f"active in the {config.gold.churn_active_days} days before the as-of date; churned = "
                        f"cancel or no event in the {config.gold.churn_horizon_days} days from it"
                    ),
                    "churn_horizon_days": config.gold.churn_horizon_days,
                    "churn_active_days": config.gold.churn_active_days,
                    "as_of_every_days": config.models.as_of_every_days,
                    "max_evals": config.models.max_evals,
                    "gbt_max_iter": config.models.gbt_max_iter,
                    "seed": config.models.seed,
                    "numeric_features": len(spec.numeric),
                    "categorical_features": ",".join(spec.categorical),
                    "missing_indicators": len(spec.with_missing),
                    **split.describe(),
                }
            )
            tracking.log_table_versions(config, data.versions)
            mlflow.log_dict(
                {
                    name: [d.isoformat() for d in getattr(split, name)]
                    for name in ("train", "validation", "test")
                },
                "split.json",
            )
            mlflow.log_metrics(sizes)

            trials: list[Trial] = []
            for family in FAMILIES:
                family_trials = tune_family(family, train_rows, validation_rows, spec, config)
                trials += family_trials
                mlflow.log_metric(
                    f"best_validation_roc_auc.{family}", family_trials[0].validation["validation_roc_auc"]
                )
            best = max(trials, key=lambda t: t.validation["validation_roc_auc"])
            mlflow.log_params({"best_family": best.family, "best_trial_run_id": best.run_id})
            mlflow.log_params({f"best.{k}": v for k, v in best.params.items()})

            scored = with_score(best.model.transform(test_rows)).persist()
            metrics = binary_metrics(scored, prefix="test_")
            metrics["validation_roc_auc"] = best.validation["validation_roc_auc"]
            recency = config.models.recency_feature
            baseline = None
            if recency in scored.columns:
                # Longer since the last activity ranks higher; never active ranks highest.
                baseline = scored.withColumn(
                    "recency_score", F.coalesce(F.col(recency).cast("double"), F.lit(1e9))
                )
                metrics["baseline_recency_roc_auc"] = roc_auc(baseline, "recency_score")
            else:
                log.warning("churn: no column %r for the recency baseline (models.recency_feature)", recency)
            metrics.update(oracle_metrics(spark, config, best.model, data, recency))

            report = fairness.audit(
                scored,
                csv_list(config.models.fairness_segments),
                config.models.fairness_min_segment_size,
                config.models.fairness_max_auc_gap,
                SCORE,
                LABEL,
            )
            for segment, gap in report.gaps.items():
                metrics[f"fairness.{segment}.auc_gap"] = gap
            for segment, (ci_low, ci_high) in report.gap_ci.items():
                metrics[f"fairness.{segment}.auc_gap_ci_low"] = ci_low
                metrics[f"fairness.{segment}.auc_gap_ci_high"] = ci_high
            for r in report.rows:
                if r.audited:
                    metrics[f"fairness.{r.segment}.{_metric_key(r.value)}.roc_auc"] = r.roc_auc
            metrics["fairness.largest_auc_gap"] = report.largest_gap
            metrics["fairness.flagged_segments"] = float(len(report.flagged))
            mlflow.set_tag("fairness.flagged", ",".join(report.flagged) or "none")
            mlflow.set_tag("fairness.may_be_noise", ",".join(report.uncertain) or "none")
            mlflow.log_text(report.csv(), "fairness/segments.csv")
            mlflow.log_text("\n".join(report.lines()) + "\n", "fairness/summary.txt")
            mlflow.log_metrics(
                {k: float(v) for k, v in metrics.items() if v is not None and math.isfinite(v)}
            )

            _log_plots(best, scored, baseline, plots)

            example = test_rows.select(*spec.inputs).limit(5).toPandas()  # five rows: the input example
            output = best.model.transform(test_rows.limit(5)).select("prediction").toPandas()
            info = mlflow.spark.log_model(
                best.model,
                "model",
                signature=infer_signature(example, output),
                input_example=example,
                dfs_tmpdir=tracking.dfs_tmpdir(config),
                pip_requirements=list(tracking.MODEL_REQUIREMENTS),
            )
            promotion = registry.register_and_promote(
                MlflowClient(), MODEL_NAME, info.model_uri, run_id, TEST_METRIC, metrics[TEST_METRIC]
            )
            mlflow.set_tags(
                {
                    "registered_model": MODEL_NAME,
                    "registered_version": str(promotion.version),
                    "promoted_to_champion": str(promotion.promoted).lower(),
                }
            )
            log.info(promotion.summary())
            scored.unpersist()
        return ChurnRun(run_id, promotion, best.family, metrics, report.flagged, tuple(report.lines()), split)
    finally:
        for df in (labelled, train_rows, validation_rows, test_rows):
            df.unpersist()


def _metric_key(text: str) -> str:
    from lakepulse.models.pricing import metric_key

    return metric_key(text)


def oracle_metrics(
    spark: SparkSession, config: Config, model: PipelineModel, data: TrainingData, recency: str
) -> dict[str, float]:
    """The planted true probabilities' ROC AUC, and the model's and the recency baseline's on the same rows.

    The truth is each customer's probability, as of the end of the generated period, of churning in
    the horizon after it; churn.csv also holds the churn date those draws produced, which for
    customers still there at the end may fall inside that horizon. The one as-of date this compares
    fairly on is therefore the day after the last event day (features then see the whole period and
    nothing after it), with the planted outcome (a churn date in the horizon) as the label: no gold
    label exists there, since its horizon lies past the data. The rows are the customers the model
    applies to (active in the look-back) that have a truth value; all three AUCs use exactly them.
    """
    truth = truth_probabilities(spark, config)
    if truth is None:
        return {}
    last_day, horizon = truth_period(spark, config)
    if last_day is None:
        last_day = data.events.agg(F.max("event_date")).first()[0]  # one row
    oracle_date = last_day + dt.timedelta(days=1)
    snapshot = data.features.filter(F.col("as_of_date") == F.lit(oracle_date))
    if snapshot.limit(1).count() == 0:
        log.warning(
            "churn: no features as of %s (the day after the last event day): no oracle comparison",
            oracle_date,
        )
        return {}
    end = oracle_date + dt.timedelta(days=horizon)
    outcome = (
        F.col("churn_date").isNotNull()
        & (F.col("churn_date") >= F.lit(oracle_date))
        & (F.col("churn_date") < F.lit(end))
    )
    rows = (
        snapshot.join(
            active_customers(data.events, oracle_date, config.gold.churn_active_days),
            "customer_key",
            "left_semi",
        )
        .join(truth.filter(F.col("true_probability").isNotNull()), on="customer_key", how="inner")
        .withColumn(LABEL, outcome.cast("double"))
    )
    scored = with_score(model.transform(model_input(rows, data.spec, keep=["true_probability"]))).persist()
    try:
        if scored.agg(F.countDistinct(LABEL)).first()[0] < 2:
            log.warning(
                "churn: the oracle rows as of %s hold one class only; no oracle comparison", oracle_date
            )
            return {}
        out = {
            "oracle_rows": float(scored.count()),
            "oracle_churn_rate": float(scored.agg(F.avg(LABEL)).first()[0]),
            "oracle_roc_auc": roc_auc(scored, "true_probability"),
            "oracle_model_roc_auc": roc_auc(scored, SCORE),
        }
        out["auc_ratio_to_oracle"] = out["oracle_model_roc_auc"] / out["oracle_roc_auc"]
        if recency in scored.columns:
            recency_rows = scored.withColumn(
                "recency_score", F.coalesce(F.col(recency).cast("double"), F.lit(1e9))
            )
            out["oracle_baseline_recency_roc_auc"] = roc_auc(recency_rows, "recency_score")
        return out
    finally:
        scored.unpersist()


def _log_plots(best: Trial, scored: DataFrame, baseline: DataFrame | None, plots) -> None:
    import mlflow

    histogram = score_histogram(scored)
    model_curves = curves(histogram)
    roc_curves = {f"model ({best.family})": (model_curves["fpr"], model_curves["tpr"])}
    pr_curves = {f"model ({best.family})": (model_curves["recall"], model_curves["precision"])}
    if baseline is not None:
        # Recency in days, mapped to [0, 1) so the same fixed-bin histogram applies.
        days = baseline.withColumn(
            "recency_unit", F.col("recency_score") / (F.col("recency_score") + F.lit(30.0))
        )
        base_curves = curves(score_histogram(days, "recency_unit", bins=400))
        roc_curves["recency baseline"] = (base_curves["fpr"], base_curves["tpr"])
        pr_curves["recency baseline"] = (base_curves["recall"], base_curves["precision"])
    positives = sum(h["pos"] for h in histogram)
    total = positives + sum(h["neg"] for h in histogram)
    for name, fig in (
        ("plots/roc_curve.png", plots.roc_figure(roc_curves, "ROC, test set")),
        (
            "plots/pr_curve.png",
            plots.pr_figure(pr_curves, positives / total if total else 0.0, "PR, test set"),
        ),
    ):
        mlflow.log_figure(fig, name)
        plots.close(fig)
    reliability = calibration(histogram)
    fig = plots.calibration_figure(
        [r["mean_predicted"] for r in reliability],
        [r["observed"] for r in reliability],
        [r["rows"] for r in reliability],
    )
    mlflow.log_figure(fig, "plots/calibration.png")
    plots.close(fig)
    names, values = feature_importances(best.model, scored.schema)
    fig = plots.importance_figure(names, values, f"Feature importance ({best.family})")
    mlflow.log_figure(fig, "plots/feature_importance.png")
    plots.close(fig)
    mlflow.log_dict(dict(zip(names, map(float, values), strict=True)), "feature_importance.json")
