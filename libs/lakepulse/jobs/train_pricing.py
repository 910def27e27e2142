"""Fits price elasticity per category (log-log demand, MLflow), registers lakepulse-pricing, writes prices.

Reads silver/events, silver/prices and silver/weather; writes gold/price_elasticities (estimate and 95%
interval per category) and gold/price_recommendations (from the pricing champion). On generated data
the planted elasticities are compared with the estimates and the errors are logged and printed.
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
    if result.errors is not None:
        within = sum(e <= 0.10 for e in result.errors.values())
        print(f"planted elasticities recovered within 10%: {within} of {len(result.errors)}")
        for category, error in result.errors.items():
            print(f"  {category:<18} relative error {error:6.1%}{'' if error <= 0.10 else '  > 10%'}")
    written = "no pricing champion" if result.recommendations is None else f"{result.recommendations} rows"
    print(f"gold/price_recommendations: {written}")
    return 0


JOB = Job("train_pricing", __doc__, body, registers=True)
main = JOB.main


if __name__ == "__main__":  # python -m lakepulse.jobs.train_pricing
    sys.exit(main())
