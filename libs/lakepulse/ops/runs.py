"""Run and batch identity shared by every layer's bookkeeping: ids that sort by time, UTC text stamps.

Bronze batch ids (`ingest-00000042`) are also silver's claim marks, so their format lives here, in the
bookkeeping layer both read, not inside bronze.
"""

from __future__ import annotations

import datetime as dt
import uuid


def new_run_id() -> str:
    return f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


def now_text() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def make_batch_id(version: int) -> str:
    return f"ingest-{version:08d}"
