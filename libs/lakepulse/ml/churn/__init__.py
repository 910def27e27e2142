"""Churn model: gold/customer_features joined to gold/churn_labels, Spark ML pipelines tuned with hyperopt.

One module per step of a training, so each can be read and tested alone; `training.train` composes
them. The names callers use (`churn.train`, `churn.MODEL_NAME`, `churn.with_score`, ...) are re-exported
here, so `from lakepulse.ml import churn` works as it did when this was one module.

| module | holds |
| --- | --- |
| `features` | which columns are features, the model's input shape, missing indicators |
| `data` | the label join, the sampled as-of dates, the time-based split, the cached split rows |
| `pipelines` | the two Spark ML pipeline families, the score column, feature importances |
| `search` | hyperopt's search spaces and trials, one nested MLflow run each |
| `metrics` | ROC/PR AUC, log loss, lift, calibration, curves: Spark aggregations only |
| `evaluation` | the best trial on the test dates: metrics, baseline, fairness audit, plots |
| `promotion` | logging the model to MLflow, registration and the champion gate |
| `training` | `train`: the steps above under one parent run |
"""

from __future__ import annotations

from lakepulse.ml.churn.data import (
    Split,
    SplitRows,
    TrainingData,
    labels_for,
    load_training_data,
    sample_dates,
    time_split,
)
from lakepulse.ml.churn.features import (
    KEYS,
    LABEL,
    NOT_FEATURES,
    NUMERIC_TYPES,
    SCORE,
    FeatureSpec,
    csv_list,
    feature_columns,
    model_input,
    with_missing_indicators,
)
from lakepulse.ml.churn.metrics import (
    CALIBRATION_BINS,
    CURVE_BINS,
    EPS,
    binary_metrics,
    calibration,
    curves,
    expected_calibration_error,
    log_loss,
    pr_auc,
    roc_auc,
    score_histogram,
    top_decile_lift,
)
from lakepulse.ml.churn.pipelines import FAMILIES, build_pipeline, feature_importances, with_score
from lakepulse.ml.churn.promotion import MODEL_NAME, TEST_METRIC
from lakepulse.ml.churn.search import Trial, search_space, tune_family
from lakepulse.ml.churn.training import ChurnRun, train

__all__ = [
    "CALIBRATION_BINS",
    "CURVE_BINS",
    "EPS",
    "FAMILIES",
    "KEYS",
    "LABEL",
    "MODEL_NAME",
    "NOT_FEATURES",
    "NUMERIC_TYPES",
    "SCORE",
    "TEST_METRIC",
    "ChurnRun",
    "FeatureSpec",
    "Split",
    "SplitRows",
    "TrainingData",
    "Trial",
    "binary_metrics",
    "build_pipeline",
    "calibration",
    "csv_list",
    "curves",
    "expected_calibration_error",
    "feature_columns",
    "feature_importances",
    "labels_for",
    "load_training_data",
    "log_loss",
    "model_input",
    "pr_auc",
    "roc_auc",
    "sample_dates",
    "score_histogram",
    "search_space",
    "time_split",
    "top_decile_lift",
    "train",
    "tune_family",
    "with_missing_indicators",
    "with_score",
]
