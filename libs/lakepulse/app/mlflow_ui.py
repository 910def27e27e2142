"""Starts the MLflow tracking server and UI on 127.0.0.1 over the run's local store.

    python -m lakepulse.app.mlflow_ui [--env local] [--port 5000] [--set paths.home=...]
    make mlflow-ui [ARGS="--port 5001"]

The backend and registry store and the artifact root are the configuration's (locally a SQLite file and
a folder under the home), so the UI shows exactly the runs and registered models the jobs wrote, ready
to be compared side by side. It binds to the loopback interface only: the store holds no secrets, but
a tracking server also accepts writes, so it is not exposed beyond this machine. The process is
replaced by `mlflow server` (Ctrl-C stops it).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from lakepulse.config import Config, load_config
from lakepulse.errors import LakepulseError, UsageError
from lakepulse.runtime.cli import configure_logging, job_parser

HOST = "127.0.0.1"


def server_command(config: Config, port: int, workers: int = 1) -> list[str]:
    """The `mlflow server` command line for this configuration's stores."""
    return [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--host",
        HOST,
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--backend-store-uri",
        config.mlflow.tracking_uri,
        "--registry-store-uri",
        config.mlflow.registry_uri,
        "--default-artifact-root",
        config.mlflow.artifact_root,
    ]


def main(argv: Sequence[str] | None = None) -> int:
    configure_logging()
    parser = job_parser("mlflow_ui", __doc__)
    parser.prog = "python -m lakepulse.app.mlflow_ui"
    parser.add_argument("--port", type=int, default=5000, help="port on 127.0.0.1 (default: 5000)")
    try:
        args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
        if not 0 < args.port < 65536:
            raise UsageError(f"--port {args.port}: expected 1..65535")
        config = load_config(args.env, args.config, args.overrides)
        if config.mlflow.tracking_uri.startswith(("http://", "https://")):
            raise UsageError(
                f"mlflow.tracking_uri is already a tracking server ({config.mlflow.tracking_uri}): open it directly"
            )
        from lakepulse.ml.tracking import ensure_local_dirs

        ensure_local_dirs(config)
    except LakepulseError as exc:
        print(f"lakepulse mlflow_ui: error: {exc}", file=sys.stderr)
        return exc.exit_code
    command = server_command(config, args.port)
    print(f"MLflow UI: http://{HOST}:{args.port}  (store {config.mlflow.tracking_uri})", flush=True)
    os.execv(command[0], command)
    return 0  # not reached: execv replaces this process


if __name__ == "__main__":
    sys.exit(main())
