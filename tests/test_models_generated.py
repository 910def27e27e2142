"""The models on generated data, end to end: the shared `pipeline` run of the test session
(tests/conftest.py, PIPELINE_SAMPLE), against the generator's planted truth (elasticities, churn
probabilities).

The sample is small: 800 customers over 75 days, with a 14-day label look-back and horizon (the planted churn probabilities keep their own 30-day horizon; docs/models.md explains the
comparison). The figures are printed, so a run shows each one, not only pass or fail.
"""

from __future__ import annotations

import pytest
from lakepulse_sample import truth as planted_truth

from lakepulse.runtime import delta_io

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def lake(pipeline_lake):
    config = pipeline_lake.config
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=config.mlflow.tracking_uri, registry_uri=config.mlflow.registry_uri)
    runs = client.search_runs([client.get_experiment_by_name(config.mlflow.experiment).experiment_id])
    by_job = {r.data.tags.get("lakepulse.job"): r for r in runs if "lakepulse.job" in r.data.tags}
    return {
        "home": config.paths.home,
        "config": config,
        "pricing": by_job["train_pricing"],
        "churn": by_job["train_churn"],
    }


def test_every_planted_elasticity_is_recovered_within_ten_percent(spark, lake):
    """The planted comparison is made here (and by the sample kit), never by the product: the run logs
    estimates only, and reads gold only."""
    config = lake["config"]
    truth = (
        spark.read.option("header", True).csv(f"{config.paths.landing}/_truth/elasticities.csv").toPandas()
    )
    table = delta_io.read_delta(spark, config.table_path("gold", "price_elasticities")).toPandas()
    estimates = table[table["is_champion"]].set_index("category")["elasticity"]
    assert sorted(estimates.index) == sorted(truth["category"])
    metrics, params = lake["pricing"].data.metrics, lake["pricing"].data.params
    errors = {}
    for row in truth.itertuples(index=False):
        planted = float(row.elasticity)
        errors[row.category] = abs(estimates[row.category] - planted) / abs(planted)
        print(
            f"{row.category:<12} planted {planted:6.3f}  estimate {estimates[row.category]:6.3f}  error {errors[row.category]:.1%}"
        )
        assert metrics[f"elasticity.{row.category}"] == pytest.approx(estimates[row.category])
    assert max(errors.values()) <= 0.10
    assert planted_truth.elasticity_errors(
        estimates.to_dict(), truth.set_index("category")["elasticity"].astype(float).to_dict()
    ) == pytest.approx(errors)
    assert not [k for k in metrics if "planted" in k or "rel_error" in k or "within" in k]
    assert [k for k in params if k.startswith("delta_version.")] == [
        "delta_version.gold.product_demand_daily"
    ]


def test_churn_model_is_close_to_the_planted_oracle_and_beats_recency(spark, lake):
    """The oracle comparison is the sample kit's (the product logs no planted-truth figure)."""
    from lakepulse_sample import churn_oracle

    logged = lake["churn"].data.metrics
    assert not [k for k in logged if "oracle" in k]
    m = {**logged, **churn_oracle.oracle_for_run(spark, lake["config"], lake["churn"].info.run_id)}
    for name in (
        "test_roc_auc",
        "baseline_recency_roc_auc",
        "oracle_roc_auc",
        "oracle_model_roc_auc",
        "oracle_baseline_recency_roc_auc",
        "auc_ratio_to_oracle",
    ):
        print(f"{name:<34}{m[name]:.4f}")
    assert m["oracle_model_roc_auc"] >= 0.95 * m["oracle_roc_auc"]
    assert m["oracle_model_roc_auc"] > m["oracle_baseline_recency_roc_auc"]
    assert m["test_roc_auc"] > m["baseline_recency_roc_auc"]
