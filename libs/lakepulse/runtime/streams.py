"""One way to run a foreachBatch stream, shared by bronze ingest and silver refine.

Both layers stream only to discover work (new landing files, new ingest batches) and hand each
micro-batch to their batch routine; what differs is the source, the handler and the checkpoint. The
trigger choice, the wait and the one-line error on failure are the same and live here once.
"""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import DataFrame

from lakepulse.errors import LakepulseError


def run_foreach_batch(
    stream: DataFrame,
    *,
    name: str,
    checkpoint: str,
    handle: Callable[[DataFrame, int], None],
    trigger_interval: str | None,
    what: str,
) -> None:
    """Runs `handle` on each micro-batch of `stream` until it ends: availableNow (no interval) ends once
    the input present at start is processed; an interval runs until stopped. A failure becomes one
    LakepulseError line naming `what` ("streaming ingestion", ...); the query never outlives the call."""
    if not stream.isStreaming:
        raise ValueError(f"{what}: run_foreach_batch needs a streaming DataFrame")
    writer = stream.writeStream.queryName(name).foreachBatch(handle).option("checkpointLocation", checkpoint)
    writer = (
        writer.trigger(processingTime=trigger_interval)
        if trigger_interval
        else writer.trigger(availableNow=True)
    )
    query = writer.start()
    try:
        query.awaitTermination()
    except Exception as exc:
        text = str(exc).strip()
        first = text.splitlines()[0] if text else type(exc).__name__
        raise LakepulseError(f"{what} failed: {first}") from exc
    finally:
        if query.isActive:
            query.stop()
