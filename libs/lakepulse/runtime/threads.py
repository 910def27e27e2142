"""Independent Spark work submitted from a few driver threads at once.

On a small cluster (and in local mode) a job over a small table spends most of its time in the driver:
planning, listing, committing to the Delta log. Submitting independent jobs from several threads lets
one table's tasks run while another waits on its commit; Spark's scheduler shares the executors.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

R = TypeVar("R")

THREADS = 4


def run_concurrently(work: Sequence[Callable[[], R]], name: str, threads: int = THREADS) -> list[R]:
    """Runs every callable, from up to `threads` driver threads; returns their results in order once all
    are done, or raises the first failure (in the order given)."""
    if len(work) <= 1 or threads <= 1:
        return [w() for w in work]
    with ThreadPoolExecutor(max_workers=min(threads, len(work)), thread_name_prefix=name) as pool:
        futures = [pool.submit(w) for w in work]
    return [f.result() for f in futures]
