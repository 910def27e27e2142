"""Fits price elasticity per category (log-log demand, MLflow), registers lakepulse-pricing, writes prices.

Reads gold/product_demand_daily (written by `kpis`); writes gold/price_elasticities (estimate and 95%
interval per category) and gold/price_recommendations (from the pricing champion).
"""

from __future__ import annotations

import sys

from lakepulse.runtime.cli import Job


def body(args, config, spark) -> int:
    from lakepulse.ml import pricing

    result = pricing.train(spark, config)
    print(f"MLflow run {result.run_id}: {result.promotion.summary()}")
    print(f"holdout {pricing.TEST_METRIC} = {result.test_rmse:.4f}")
    for line in pricing.summarize(result.fits):
        print("  " + line)
    written = "no pricing champion" if result.recommendations is None else f"{result.recommendations} rows"
    print(f"gold/price_recommendations: {written}")
    return 0


JOB = Job("train_pricing", __doc__, body, registers=True)
main = JOB.main


if __name__ == "__main__":  # python -m lakepulse.jobs.train_pricing
    sys.exit(main())
