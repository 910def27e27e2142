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


def _q(name: str) -> str:
    """Feature names come from the table, so they are quoted before they go into SQL."""
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
    last = model.stages[-1]
    if hasattr(last, "coefficients"):
        values = [abs(v) for v in last.coefficients.toArray()]
    else:
        values = list(last.featureImportances.toArray())
    return [names.get(i, f"f{i}") for i in range(len(values))], values
