"""Did ingest read every record the dataset landed? The audit of a lake against the dataset's manifest.

A bench figure only means something if the steps processed the whole dataset: the 2026-12-07 run found
that a plain `ingest` after `ingest --source events` had skipped most of the other sources' files. So
each scale lake's `_ops/ingest_audit` is summed per source (delta-rs, an independent reader) and set
beside the manifest's record counts; a size whose steps read fewer records than landed invalidates the
figures that depend on them.
"""

from __future__ import annotations

from pathlib import Path

FIELDS = ("files_read", "records_read", "loaded", "quarantined", "duplicates_dropped")


def audit_totals(home: str | Path) -> dict[str, dict[str, int]] | None:
    """Per source, the sums of the lake's ingest audit; None when the lake has no audit (yet)."""
    from deltalake import DeltaTable

    path = Path(home) / "lake" / "_ops" / "ingest_audit"
    if not (path / "_delta_log").is_dir():
        return None
    out: dict[str, dict[str, int]] = {}
    for row in DeltaTable(str(path)).to_pyarrow_table(columns=["source", *FIELDS]).to_pylist():
        totals = out.setdefault(row["source"], dict.fromkeys(FIELDS, 0))
        for field in FIELDS:
            totals[field] += row[field] or 0
    return out


def reconcile(landed: dict[str, int] | None, audited: dict[str, dict[str, int]] | None) -> dict:
    """Per source: landed, read, loaded + quarantined + duplicates, and whether everything was read."""
    sources = {}
    for name, records in sorted((landed or {}).items()):
        a = (audited or {}).get(name) or dict.fromkeys(FIELDS, 0)
        accounted = a["loaded"] + a["quarantined"] + a["duplicates_dropped"]
        sources[name] = {
            "landed": records,
            "read": a["records_read"],
            "accounted": accounted,
            "ok": a["records_read"] == records == accounted,
        }
    return {"sources": sources, "ok": bool(sources) and all(s["ok"] for s in sources.values())}
