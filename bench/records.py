"""What a part keeps of a measured process's record (the full record stays in results["processes"])."""

from __future__ import annotations


def ref(record: dict) -> dict:
    """A step's record as stored under its part (the full record is in `processes`)."""
    keep = (
        "label",
        "job",
        "ok",
        "job_seconds",
        "startup_seconds",
        "process_seconds",
        "jvm_peak_rss_kib",
        "jvm_heap_peak_bytes",
        "python_peak_rss_kib",
        "jvm_cpu_seconds",
        "python_cpu_seconds",
        "cores",
        "app_id",
        "load_before",
        "load_after",
        "log",
        "variant",
        "size",
        "ready_epoch_ms",
        "done_epoch_ms",
    )
    return {k: record[k] for k in keep if k in record}
