"""A batch's identity: its number, files, run and time, fixed when it is planned and reused unchanged
when a killed run's batch is completed, so that every write of the retry is the same idempotent write.
"""

from __future__ import annotations

from dataclasses import dataclass

from lakepulse.bronze import files as landing
from lakepulse.contracts.sources import SOURCES
from lakepulse.ops import runs

APP_ID = "ingest"


@dataclass(frozen=True)
class Plan:
    version: int
    files: tuple[tuple[str, landing.LandingFile], ...]  # (source, file)
    run_id: str
    ingested_at: str  # UTC text, see lakepulse.ops.lake.small_frame
    mode: str
    # Per source, the newest modification time of any file booked up to and including this plan (UTC
    # text): carried in the plan's commit, the reference point of `ingest.max_file_age_hours`.
    newest: tuple[tuple[str, str], ...] = ()

    @property
    def batch_id(self) -> str:
        return runs.make_batch_id(self.version)

    @property
    def txn(self) -> tuple[str, int]:
        return APP_ID, self.version

    def sources(self) -> list[str]:
        names = {name for name, _ in self.files}
        return [n for n in SOURCES if n in names]

    def files_of(self, name: str) -> list[landing.LandingFile]:
        """The source's files whose records the batch reads (duplicate and unchanged files are only booked)."""
        return sorted((f for n, f in self.files if n == name and f.read), key=lambda f: f.path)

    def count_of(self, name: str, outcome: str) -> int:
        return sum(1 for n, f in self.files if n == name and f.outcome == outcome)


@dataclass(frozen=True)
class Audit:
    source: str
    batch_id: str
    files_read: int
    corrupt_files: int
    records_read: int
    loaded: int
    quarantined: int
    duplicates_dropped: int
    # Files, not records: a duplicate file is booked unread (its records are not in records_read); a new
    # version is read like a new file (its records are in the counts above).
    duplicate_files: int = 0
    new_versions: int = 0
