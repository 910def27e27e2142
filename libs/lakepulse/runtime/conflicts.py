"""Delta's optimistic-concurrency conflicts: recognised, and retried where running again is safe.

Two runs on one lake (a `forget` while `maintain` compacts, two refines) commit to the same tables;
Delta lets the first commit win and fails the other with a conflict (ConcurrentAppendException, ...).
A conflicted commit wrote nothing to the log, so an operation that computes its change afresh from the
table's new state can simply run again: MERGE, DELETE/UPDATE by predicate, OPTIMIZE, VACUUM, a metadata
change (ALTER TABLE), an overwrite, and an append carrying Delta's idempotent-write id (txnAppId and
txnVersion, which Delta applies at most once). A blind append without that id is not retried: it
conflicts only with another run's metadata or protocol change (the table created or altered meanwhile),
and should a failure ever be mistaken for a conflict after its commit landed, a second run would
duplicate its rows, where Delta skips an id it has already committed. It fails with one line instead;
every append of a job passes the id.

The retry loop is tenacity's; what is lakepulse's own is only which errors are conflicts, when running
again is safe, and the policy read from the session (lazily: a write that commits at once reads none).

Conflicts are recognised three ways, so that a classic session and Spark Connect agree: delta-spark's
Python classes (`delta.exceptions`, installed for py4j by importing it, registered for Connect by
`delta.connect.exceptions`, which the Connect session factory imports: imported in a classic process,
such as a notebook kernel, it fails), then the error condition Spark reports (`getCondition()`), then the
condition leading the message (`[DELTA_CONCURRENT_APPEND.WITHOUT_HINT] ...`). Only the exception's own
condition counts: DELTA_POST_COMMIT_HOOK_FAILED, whose message quotes a conflict, follows a commit
that succeeded and is never retried.

The policy (attempts, backoff) is the run's `delta` configuration, carried by the session as
`spark.lakepulse.delta.*` settings (`lakepulse.runtime.spark_conf.conflict_conf`) and read only when a
conflict happens.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import delta.exceptions as delta_exceptions
from pyspark.sql import SparkSession
from tenacity import RetryCallState, Retrying, retry_if_exception

from lakepulse.config.sections import DeltaConfig
from lakepulse.errors import DeltaConflictError
from lakepulse.runtime.spark_conf import BACKOFF_KEY, BACKOFF_MAX_KEY, RETRIES_KEY

log = logging.getLogger("lakepulse.runtime.conflicts")
T = TypeVar("T")

# Delta 4.4's conflict conditions (error/delta-error-classes.json in delta-spark's jar), without the
# sub-condition (.WITH_PARTITION_HINT, .WITHOUT_HINT).
CONFLICTS = frozenset(
    {
        "DELTA_CONCURRENT_APPEND",
        "DELTA_CONCURRENT_DELETE_READ",
        "DELTA_CONCURRENT_DELETE_DELETE",
        "DELTA_CONCURRENT_TRANSACTION",
        "DELTA_CONCURRENT_WRITE",
        "DELTA_METADATA_CHANGED",
        "DELTA_PROTOCOL_CHANGED",
    }
)
_CLASSES = {
    delta_exceptions.ConcurrentAppendException: "DELTA_CONCURRENT_APPEND",
    delta_exceptions.ConcurrentDeleteReadException: "DELTA_CONCURRENT_DELETE_READ",
    delta_exceptions.ConcurrentDeleteDeleteException: "DELTA_CONCURRENT_DELETE_DELETE",
    delta_exceptions.ConcurrentTransactionException: "DELTA_CONCURRENT_TRANSACTION",
    delta_exceptions.ConcurrentWriteException: "DELTA_CONCURRENT_WRITE",
    delta_exceptions.MetadataChangedException: "DELTA_METADATA_CHANGED",
    delta_exceptions.ProtocolChangedException: "DELTA_PROTOCOL_CHANGED",
}
_LEADING_CONDITION = re.compile(r"^\s*\[([A-Z][A-Z0-9_]*)(?:\.[A-Z0-9_]+)*\]")


def conflict_of(exc: BaseException) -> str | None:
    """The Delta conflict condition `exc` reports (e.g. DELTA_CONCURRENT_APPEND), or None."""
    for cls, condition in _CLASSES.items():
        if isinstance(exc, cls):
            return condition
    getter = getattr(exc, "getCondition", None)
    condition = None
    with contextlib.suppress(Exception):  # an exception without a condition
        condition = getter() if callable(getter) else None
    if not condition:
        found = _LEADING_CONDITION.match(str(exc))
        condition = found.group(1) if found else None
    base = (condition or "").split(".", 1)[0]
    return base if base in CONFLICTS else None


@dataclass(frozen=True)
class Policy:
    retries: int
    backoff_seconds: float
    backoff_max_seconds: float

    def delay(self, retry: int) -> float:
        """Full jitter: a random wait below min(max, backoff * 2^(retry-1))."""
        bound = min(self.backoff_max_seconds, self.backoff_seconds * 2 ** (retry - 1))
        return random.uniform(0, bound)


def policy_of(spark: SparkSession) -> Policy:
    """The session's retry policy; the `delta` section's defaults where the session has none."""
    default = DeltaConfig()

    def setting(key: str, value: float) -> str:
        return spark.conf.get(key, str(value)) or str(value)

    return Policy(
        int(setting(RETRIES_KEY, default.conflict_retries)),
        float(setting(BACKOFF_KEY, default.conflict_backoff_seconds)),
        float(setting(BACKOFF_MAX_KEY, default.conflict_backoff_max_seconds)),
    )


def retrying(
    spark: SparkSession, table: str, operation: str, action: Callable[[], T], safe: bool = True
) -> T:
    """Runs `action` (one Delta commit, `operation` on `table`), again after each Delta conflict while
    `safe` and retries remain, waiting a jittered, doubling backoff between attempts.

    One warning per retry names the table, the operation and the conflict; a conflict that is not
    retried, or the last one, raises DeltaConflictError with one line. Other errors pass unchanged.
    """
    policy = functools.cache(lambda: policy_of(spark))

    def warn(state: RetryCallState) -> None:
        conflict = conflict_of(state.outcome.exception())
        retries = policy().retries
        wait = state.next_action.sleep
        log.warning(
            "%s on %s: %s, retry %d of %d in %.2fs",
            operation,
            table,
            conflict,
            state.attempt_number,
            retries,
            wait,
        )

    retryer = Retrying(
        retry=retry_if_exception(lambda exc: safe and conflict_of(exc) is not None),
        stop=lambda state: state.attempt_number > policy().retries,
        wait=lambda state: policy().delay(state.attempt_number),
        before_sleep=warn,
        reraise=True,
    )
    try:
        return retryer(action)
    except Exception as exc:
        conflict = conflict_of(exc)
        if conflict is None:
            raise
        if not safe:
            raise DeltaConflictError(
                f"{operation} on {table} lost to a concurrent commit ({conflict}) and is not retried: "
                "it is not safe to run twice; run the job again"
            ) from exc
        raise DeltaConflictError(
            f"{operation} on {table} still conflicts with concurrent commits after "
            f"{policy().retries + 1} attempts ({conflict}); run the job again when the other run is done"
        ) from exc
