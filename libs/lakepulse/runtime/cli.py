"""What every job shares: common arguments, config loading, the session, and errors.

A job declares its own arguments and a body `(args, config, spark) -> int` as a `Job`. `Job.invoke`
runs it and raises `LakepulseError` on bad input, so a caller in the same process (the pipeline, a
test, a notebook) gets an exception, never text to parse; `Job.main` is the spark-submit entry point,
which turns that error into one line on stderr and a non-zero exit code (2 for usage, 1 otherwise).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from lakepulse.config import Config, load_config
from lakepulse.errors import LakepulseError, UsageError
from lakepulse.runtime import connect

log = logging.getLogger("lakepulse")

JobBody = Callable[[argparse.Namespace, Config, "object"], int | None]
ConnectCheck = Callable[[argparse.Namespace], str | None]


class _OneLineParser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse prints usage on two lines; one is enough
        raise UsageError(message)


def job_parser(job: str, description: str | None) -> argparse.ArgumentParser:
    parser = _OneLineParser(prog=f"lakepulse {job}", description=(description or "").strip().splitlines()[0])
    parser.add_argument("--env", default="local", help="environment: conf/<env>.yaml (default: local)")
    parser.add_argument("--config", help="explicit config file (overrides --env's file)")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one config value, e.g. --set generate.customers=500 (repeatable)",
    )
    parser.add_argument(
        "--remote",
        metavar="sc://HOST:PORT",
        help="run on this Spark Connect server (the same as --set spark.remote=URL or SPARK_REMOTE)",
    )
    return parser


def add_byod_argument(parser: argparse.ArgumentParser, help: str) -> None:
    """`--byod [CSV]`: the user's own transactions (docs/models.md); without CSV, `byod.path` is read."""
    parser.add_argument("--byod", nargs="?", const="", default=None, metavar="CSV", help=help)


def add_stream_arguments(parser: argparse.ArgumentParser, stream_help: str, interval_help: str) -> None:
    """`--stream` (availableNow by default) and `--trigger-interval [INTERVAL]` (a processing-time trigger)."""
    parser.add_argument("--stream", action="store_true", help=stream_help)
    parser.add_argument("--trigger-interval", nargs="?", const="", metavar="INTERVAL", help=interval_help)


def trigger_interval(args: argparse.Namespace, default: str) -> str | None:
    """The stream's processing-time interval: None for availableNow, `default` for a bare --trigger-interval."""
    if args.trigger_interval is not None and not args.stream:
        raise UsageError("--trigger-interval needs --stream")
    return default if args.trigger_interval == "" else args.trigger_interval


def configure_logging() -> None:
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    # py4j logs every closed callback connection (one per driver thread) at INFO: noise in job output.
    logging.getLogger("py4j").setLevel(logging.WARNING)


@dataclass(frozen=True)
class JobResult:
    job: str
    exit_code: int
    seconds: float


def _no_arguments(parser: argparse.ArgumentParser) -> None:
    return None


@dataclass(frozen=True)
class Job:
    """One job: its name (the file under jobs/ and the Spark application name), the description its
    --help shows (the first line of `description`), its own arguments and its body; `over_connect`
    names, for its arguments, a part that cannot run over Spark Connect (lakepulse.runtime.connect)."""

    name: str
    description: str | None
    body: JobBody
    arguments: Callable[[argparse.ArgumentParser], None] = _no_arguments
    over_connect: ConnectCheck = connect.everywhere
    registers: bool = False  # writes lake tables: registers them by name afterwards (`catalog.enabled`)

    def parser(self) -> argparse.ArgumentParser:
        parser = job_parser(self.name, self.description)
        self.arguments(parser)
        return parser

    def invoke(self, argv: Sequence[str] | None = None) -> JobResult:
        """Parses, loads config, builds (or joins) the session and runs the body; raises LakepulseError."""
        configure_logging()
        started = time.monotonic()
        args = self.parser().parse_args(list(sys.argv[1:] if argv is None else argv))
        remote = [f"spark.remote={args.remote}"] if args.remote else []
        config = load_config(args.env, args.config, [*args.overrides, *remote])
        from lakepulse.runtime.session import build_session, remote_url  # pyspark only once input is valid

        why = self.over_connect(args) if remote_url(config) else None
        if why:
            raise LakepulseError(f"cannot run over Spark Connect: {why}")
        spark = build_session(config, app_name=f"lakepulse-{self.name}")
        code = int(self.body(args, config, spark) or 0)
        if self.registers and code == 0:
            from lakepulse.runtime.catalog import register_lake

            register_lake(spark, config)
        return JobResult(self.name, code, time.monotonic() - started)

    def main(self, argv: Sequence[str] | None = None) -> int:
        """The entry point of `jobs/<name>.py`: the exit code, and bad input as one line on stderr."""
        try:
            return self.invoke(argv).exit_code
        except LakepulseError as exc:
            print(f"lakepulse {self.name}: error: {exc}", file=sys.stderr)
            return exc.exit_code
