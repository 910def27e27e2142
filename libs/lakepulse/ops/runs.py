"""Run and batch identity shared by every layer's bookkeeping: ids that sort by time, UTC text stamps.

Bronze batch ids (`ingest-00000042`) are also silver's claim marks, so their format lives here, in the
bookkeeping layer both read, not inside bronze.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import uuid

log = logging.getLogger("lakepulse.ops")

FAULT_ENV = "LAKEPULSE_FAULT_AFTER"


def new_run_id() -> str:
    return f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


def fault_point(step: str) -> None:
    """Test hook: `LAKEPULSE_FAULT_AFTER=<step>` kills this process (SIGKILL, no cleanup) right after `step`."""
    if os.environ.get(FAULT_ENV) == step:
        log.warning("fault injection: killing the process after %s", step)
        os.kill(os.getpid(), signal.SIGKILL)


def now_text() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def make_batch_id(version: int) -> str:
    return f"ingest-{version:08d}"
