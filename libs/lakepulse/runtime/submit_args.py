"""Prints the spark-submit arguments of an environment, one per line, for spark-submit.sh.

python -m lakepulse.runtime.submit_args --config conf/local.yaml [job args with --set KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import sys

from lakepulse.config import load_config
from lakepulse.errors import LakepulseError
from lakepulse.runtime.spark_conf import spark_conf_for


def submit_args(argv: list[str]) -> list[str]:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--config", required=True)
    parser.add_argument("--env", default="local")
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    args, _ = parser.parse_known_args(argv)
    config = load_config(args.env, args.config, args.overrides)
    out = ["--master", config.spark.master]
    for key, value in spark_conf_for(config).items():
        out += ["--conf", f"{key}={value}"]
    return out


def main(argv: list[str] | None = None) -> int:
    try:
        print("\n".join(submit_args(sys.argv[1:] if argv is None else argv)))
    except LakepulseError as exc:
        print(f"spark-submit.sh: error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
