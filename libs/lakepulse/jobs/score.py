"""Scores the latest customer features with the churn champion and refreshes price recommendations.

Loads models:/lakepulse-churn@champion, scores the newest as-of date of gold/customer_features (the
customers active in the label's look-back) into gold/churn_scores (customer, as-of date, probability,
risk band, model version; a rerun replaces that date's rows), and recomputes gold/price_recommendations from models:/lakepulse-pricing@champion.
With --export FILE.csv, writes the scores with the clear ids of your own transactions file (bring your own
data), an authorised and audited re-identification (lakepulse.app.score_export).
"""

from __future__ import annotations

import argparse
import sys

from lakepulse.runtime import connect
from lakepulse.runtime.cli import Job, add_byod_argument


def body(args, config, spark) -> int:
    from lakepulse.jobs.train_churn import load_byod
    from lakepulse.ml import pricing, scoring

    if args.byod is not None:
        config = load_byod(spark, config, args.byod)
    result = scoring.score_churn(spark, config)
    print(
        f"gold/churn_scores: {result.rows} customers as of {result.as_of_date} scored with "
        f"{result.model_name} v{result.model_version} (P(churn in {result.horizon_days} days))"
    )
    looked = "before" if result.active_days == 0 else f"in the {result.active_days} days before"
    if (result.active_days, result.horizon_days) != (
        config.gold.churn_active_days,
        config.gold.churn_horizon_days,
    ):
        print(
            f"  label settings of the champion's training (look-back {result.active_days or 'ever'}, horizon "
            f"{result.horizon_days} days), not the config's ({config.gold.churn_active_days or 'ever'}, "
            f"{config.gold.churn_horizon_days})"
        )
    print(f"  not scored: {result.inactive} customers with no event {looked} it (churned by definition)")
    for band, count in result.bands.items():
        print(f"  {band:<8}{count:>10}")
    if args.export is not None:
        from lakepulse.app import score_export

        done = score_export.export_scores(spark, config, args.export)
        print(
            f"exported {done.rows} customers' scores as of {done.as_of_date} (v{done.model_version}) with the ids "
            f"of {done.source_file} to {done.path}; audited in _ops/{score_export.AUDIT_TABLE}"
        )
    if args.byod is None:
        written = pricing.refresh_recommendations(spark, config)
        if written is None:
            print(
                f"gold/price_recommendations: skipped, no {pricing.MODEL_NAME} champion (run train_pricing)"
            )
        else:
            print(f"gold/price_recommendations: {written} products, from the {pricing.MODEL_NAME} champion")
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_byod_argument(
        parser, "rebuild the features from your own transactions CSV first (config section byod)"
    )
    parser.add_argument(
        "--export",
        metavar="FILE.csv",
        help="authorised export: the scores with the customer ids of your own file (byod.path, default: the "
        "file the lake was loaded from), outside the lake; needs the pseudonymisation key; audited in "
        "_ops/score_exports",
    )


JOB = Job(
    "score",
    __doc__,
    body,
    add_arguments,
    over_connect=connect.always(connect.MLFLOW_SPARK_FLAVOUR),
    registers=True,
)
main = JOB.main


if __name__ == "__main__":  # python -m lakepulse.jobs.score
    sys.exit(main())
