"""Generate deterministic raw sources (events, logs, billing, ...) with planted truth into the landing area.

Parameters come from the config section `generate`; the flags below override them for one run. The
same seed and parameters always give the same data, whatever the cluster size.
"""

from __future__ import annotations

import json
import sys

from lakepulse.cli import job_parser, run


def main(argv: list[str] | None = None) -> int:
    parser = job_parser("generate", __doc__)
    parser.add_argument("--customers", type=int, help="number of customers (generate.customers)")
    parser.add_argument("--days", type=int, help="number of days (generate.days)")
    parser.add_argument("--start", help="first day, YYYY-MM-DD (generate.start)")
    parser.add_argument("--seed", type=int, help="random seed (generate.seed)")
    parser.add_argument(
        "--bad-rate", type=float, dest="bad_rate", help="share of bad records (generate.bad_record_rate)"
    )
    parser.add_argument(
        "--no-gzip", action="store_true", help="write events uncompressed (generate.gzip=false)"
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace what the landing folder already holds"
    )

    def body(args, config, spark) -> int:
        from lakepulse.generate import GenerateParams, generate_all

        params = GenerateParams.from_config(
            config.generate,
            customers=args.customers,
            days=args.days,
            start=args.start,
            seed=args.seed,
            bad_record_rate=args.bad_rate,
            gzip=False if args.no_gzip else None,
        )
        manifest = generate_all(spark, config, params, overwrite=args.overwrite)
        print(json.dumps({"landing": config.paths.landing, "records": manifest["records"]}, sort_keys=True))
        return 0

    return run("generate", parser, argv, body)


if __name__ == "__main__":
    sys.exit(main())
