"""Landing folders of the bench's datasets: linking a selection into a lake's home, their sizes, and the
modification times that say when each day's files landed."""

from __future__ import annotations

import datetime as dt
import gzip
import os
import re
import shutil
import zlib
from collections.abc import Callable
from pathlib import Path

DAY_FOLDER = re.compile(r"^date=(\d{4}-\d{2}-\d{2})$")


def _visible(name: str) -> bool:
    return not name.startswith((".", "_"))


def link_landing(src: Path, dst: Path, include: Callable[[str, str | None], bool]) -> int:
    """Hard-links (else copies) the landing files of `src` that `include(source, day)` keeps into `dst`."""
    count = 0
    for source in sorted(p for p in src.iterdir() if p.is_dir() and _visible(p.name)):
        for entry in sorted(source.iterdir()):
            match = DAY_FOLDER.match(entry.name)
            if entry.is_dir() and match:
                if not include(source.name, match.group(1)):
                    continue
                files = [f for f in entry.iterdir() if f.is_file() and _visible(f.name)]
                target = dst / source.name / entry.name
            elif entry.is_file() and _visible(entry.name) and include(source.name, None):
                files, target = [entry], dst / source.name
            else:
                continue
            target.mkdir(parents=True, exist_ok=True)
            for f in files:
                out = target / f.name
                if out.exists():
                    continue
                try:
                    os.link(f, out)
                except OSError:
                    shutil.copy2(f, out)
                count += 1
    return count


def days_in(landing: Path) -> list[str]:
    return sorted({m.group(1) for p in landing.glob("*/*") if (m := DAY_FOLDER.match(p.name))})


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and _visible(p.name))


def events_stats(folder: Path) -> dict:
    """Lines and bytes of the events landing files: as stored (gzip) and uncompressed.

    A truncated gzip file (the generator plants one) counts the lines and bytes readable before its end.
    """
    files = sorted(p for p in folder.rglob("*") if p.is_file() and _visible(p.name))
    lines = raw = stored = 0
    for f in files:
        stored += f.stat().st_size
        opener = gzip.open if f.name.endswith(".gz") else open
        try:
            with opener(f, "rb") as stream:
                while chunk := stream.read(1 << 20):
                    raw += len(chunk)
                    lines += chunk.count(b"\n")
        except (EOFError, OSError, zlib.error):
            continue
    return {"files": len(files), "lines": lines, "gz_bytes": stored, "raw_bytes": raw}


def stamp_landing_times(landing: Path, hour: int = 1) -> int:
    """Sets every day folder's files to have landed at `hour`:00 UTC the day after their day.

    A generator writes a whole year within minutes; a production landing folder receives each day's
    files the night after it. Incremental ingestion looks files up by age (ingest.max_file_age_hours),
    so a benchmark of "a new day after a year" needs the year's files to carry the times they would
    have. Hard links share these times with the dataset they link to.
    """
    count = 0
    for folder in landing.glob("*/date=*"):
        match = DAY_FOLDER.match(folder.name)
        if not match or not folder.is_dir():
            continue
        day = dt.date.fromisoformat(match.group(1)) + dt.timedelta(days=1)
        stamp = dt.datetime(day.year, day.month, day.day, hour, tzinfo=dt.UTC).timestamp()
        for f in folder.iterdir():
            if f.is_file():
                os.utime(f, (stamp, stamp))
                count += 1
    return count
