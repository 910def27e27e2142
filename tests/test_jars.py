"""Delta's jars come from a Maven repository over HTTP, verified by their published SHA-512.

A real HTTP server (the standard library's, on 127.0.0.1) serves a repository layout written here.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import threading

import pytest

from lakepulse.errors import MissingJarsError
from lakepulse.runtime import jars

COORDINATE = "org.example.lake:tiny-jar_2.13:1.2.3"
CONTENT = b"PK\x03\x04 not really a jar, but bytes to verify" * 100


@pytest.fixture
def repository(tmp_path):
    """A Maven repository layout under tmp_path/repo, served over HTTP; yields (url, jar folder)."""
    folder = tmp_path / "repo" / "org" / "example" / "lake" / "tiny-jar_2.13" / "1.2.3"
    folder.mkdir(parents=True)
    (folder / "tiny-jar_2.13-1.2.3.jar").write_bytes(CONTENT)
    (folder / "tiny-jar_2.13-1.2.3.jar.sha512").write_text(hashlib.sha512(CONTENT).hexdigest() + "\n")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path / "repo"))
    handler.log_message = lambda *_args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", folder
    finally:
        server.shutdown()
        server.server_close()


def test_a_jar_is_downloaded_whole_and_verified(repository, tmp_path):
    url, _ = repository
    target = jars.download(COORDINATE, tmp_path / "cache", url)
    assert target == tmp_path / "cache" / "tiny-jar_2.13-1.2.3.jar"
    assert target.read_bytes() == CONTENT
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == [target.name]


def test_a_jar_that_does_not_match_its_checksum_is_refused_and_not_kept(repository, tmp_path):
    url, folder = repository
    (folder / "tiny-jar_2.13-1.2.3.jar").write_bytes(CONTENT[:-1])  # truncated on the server
    with pytest.raises(MissingJarsError, match="SHA-512 .* does not match"):
        jars.download(COORDINATE, tmp_path / "cache", url)
    assert not (tmp_path / "cache").exists() or not list((tmp_path / "cache").iterdir())


def test_a_missing_artifact_names_its_coordinate_and_url(repository, tmp_path):
    url, _ = repository
    with pytest.raises(MissingJarsError, match=r"org\.example\.lake:tiny-jar_2\.13:9\.9\.9 from http://"):
        jars.download("org.example.lake:tiny-jar_2.13:9.9.9", tmp_path / "cache", url)


def test_the_delta_jars_match_the_installed_spark_and_delta_versions():
    from importlib.metadata import version

    spark = ".".join(version("pyspark").split(".")[:2])
    assert jars.delta_artifacts() == [
        f"io.delta:delta-spark_{spark}_2.13:{version('delta-spark')}",
        f"io.delta:delta-storage:{version('delta-spark')}",
    ]
    assert jars.jar_url("io.delta:delta-storage:4.4.0", "https://repo.example/maven2/") == (
        "https://repo.example/maven2/io/delta/delta-storage/4.4.0/delta-storage-4.4.0.jar"
    )
