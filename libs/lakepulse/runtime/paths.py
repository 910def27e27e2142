"""Storage paths as users write them: a plain path or file: URL is the local disk, anything else
(s3a:, abfss:, hdfs:) belongs to Spark's filesystems and is never opened with Python's `open`."""

from __future__ import annotations

from urllib.parse import urlparse


def is_local(path: str) -> bool:
    return urlparse(path).scheme in ("", "file")


def local_path(path: str) -> str:
    return urlparse(path).path if path.startswith("file:") else path
