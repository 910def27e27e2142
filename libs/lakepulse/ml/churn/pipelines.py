"""The churn model's Spark ML pipelines, and what is read back out of a fitted one.

Both families are whole Spark ML pipelines from raw feature columns to `probability` (numeric features
cast, imputed with their median and flagged when missing, categories one-hot encoded), so the model
MLflow stores is self-contained: scoring loads it and calls `transform`, with no lakepulse code in the
saved model. It is stored in Spark ML's own format, which names only Spark classes, so moving this code
never makes a registered version unloadable.
"""

from __future__ import annotations

from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.classification import GBTClassifier, LogisticRegression
from pyspark.ml.feature import (
    Imputer,
    OneHotEncoder,
    SQLTransformer,
    StandardScaler,
    StringIndexer,
    VectorAssembler,
)
from pyspark.ml.functions import vector_to_array
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakepulse.ml.churn.features import LABEL, SCORE, FeatureSpec

FAMILIES = ("logistic_regression", "gradient_boosted_trees")

# The pipeline's last stage: P(churn) as a double, `churn_probability`, and again as `prediction`, the one
# column MLflow's Spark flavour returns from a pyfunc (mlflow/spark: `_PyFuncModelWrapper.predict`),
# so `mlflow.pyfunc.load_model(...).predict` gives the probability, not the 0/1 decision (kept as
# `predicted_label`). Spark SQL has no function reading a vector's element (`vector_to_array` is
# DataFrame-only, and a vector does not cast to its struct), but a vector casts to its text
# "[p0,p1]", whose doubles print with enough digits to read back the same double (Java's
# Double.toString), so the probability is the vector's own; Spark ML's classifiers always produce a
# dense probability vector (tests/test_models_portable.py compares it with gold/churn_scores). Only Spark ML
# classes are saved, so the model still loads without lakepulse, and a transform that does not select
# these columns (lakepulse's scoring, `with_score`) never computes them.
_P1 = (
    "CAST(element_at(split(regexp_replace(CAST(probability AS STRING), '[\\\\[\\\\] ]', ''), ','), 2) "
    "AS DOUBLE)"
)
PROBABILITY_OUTPUT = (
    "SELECT *, churn_probability AS prediction FROM (SELECT * EXCEPT (prediction), "
    f"prediction AS predicted_label, {_P1} AS churn_probability FROM __THIS__)"
)


def _q(name: str) -> str:
    """Feature names come from the table, so they are quoted before they go into SQL."""
    return f"`{name}`"


# The purchase process in the terms of buy-till-you-die models (Fader, Hardie and Lee's BG/NBD: purchases
# x, customer age T, recency), as ratios a linear model cannot form itself: how often a customer buys
# per day of their life, and how long they have been silent against their own typical gap between
# purchases. For sparse buyers "overdue against their own rhythm" separates the lapsed from the merely
# infrequent, which days since the last purchase alone cannot. Computed inside the pipeline from the
# gold columns, so scoring and a pyfunc load need nothing but those.
_AGE = "GREATEST(CAST(days_since_signup AS DOUBLE), 1.0)"
DERIVED = {
    "purchases_per_day_of_age": f"CAST(frequency AS DOUBLE) / {_AGE}",
    "recency_share_of_age": f"CAST(recency_days AS DOUBLE) / {_AGE}",
    "recency_over_mean_gap": f"CAST(recency_days AS DOUBLE) * CAST(frequency AS DOUBLE) / {_AGE}",
}
DERIVED_FROM = ("frequency", "recency_days", "days_since_signup")


def derived_features(spec: FeatureSpec) -> dict[str, str]:
    """The `DERIVED` features when the spec has their sources (a features table that has them)."""
    return DERIVED if all(c in spec.numeric for c in DERIVED_FROM) else {}


def build_pipeline(spec: FeatureSpec, family: str, params: dict, seed: int) -> Pipeline:
    """Raw feature columns in, `probability` out: one self-contained pipeline that scoring loads as is."""
    derived = derived_features(spec)
    casts = [f"CAST({_q(c)} AS DOUBLE) AS {_q(c + '__v')}" for c in spec.numeric]
    casts += [f"{sql} AS {_q(name + '__v')}" for name, sql in derived.items()]
    flags = [
        f"CASE WHEN {_q(c)} IS NULL THEN 1.0 ELSE 0.0 END AS {_q(c + '__missing')}" for c in spec.with_missing
    ]
    stages = [SQLTransformer(statement=f"SELECT *, {', '.join([*casts, *flags])} FROM __THIS__")]
    numeric = [c + "__v" for c in (*spec.numeric, *derived)]
    imputed = [c + "__i" for c in (*spec.numeric, *derived)]
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
    stages.append(SQLTransformer(statement=PROBABILITY_OUTPUT))
    return Pipeline(stages=stages)


def with_score(predictions: DataFrame) -> DataFrame:
    """The churn probability as a plain double (`score`): metrics, the fairness audit and gold/churn_scores
    all need a column they can aggregate, not Spark ML's probability vector."""
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
    last = next(
        s for s in reversed(model.stages) if hasattr(s, "coefficients") or hasattr(s, "featureImportances")
    )
    if hasattr(last, "coefficients"):
        values = [abs(v) for v in last.coefficients.toArray()]
    else:
        values = list(last.featureImportances.toArray())
    return [names.get(i, f"f{i}") for i in range(len(values))], values
