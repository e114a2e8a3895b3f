"""`-i` takes URLs (downloaded, bounded, clear errors) and `--export-data` never writes an
`.amdbg` under a Go dump's name."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from am_dbg.recordings import RecordingError

from .run import FIXTURE, am_dbg


@pytest.fixture
def http_root(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A real HTTP server on 127.0.0.1 serving `tmp_path`."""
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}", tmp_path
    srv.shutdown()
    srv.server_close()


def test_import_from_a_url_reads_the_same_as_the_file(http_root: tuple[str, Path]) -> None:
    base, root = http_root
    (root / FIXTURE.name).write_bytes(FIXTURE.read_bytes())
    local = am_dbg("-i", str(FIXTURE), "--print-summary")
    remote = am_dbg("-i", f"{base}/{FIXTURE.name}", "--print-summary")  # the JSON names the URL
    assert remote.returncode == 0, remote.stderr
    url = f"{base}/{FIXTURE.name}"
    assert json.loads(remote.stdout) == {**json.loads(local.stdout), "file": url}
    assert "No such file" not in remote.stderr


def test_a_missing_url_is_one_clear_line(http_root: tuple[str, Path]) -> None:
    base, _ = http_root
    got = am_dbg("-i", f"{base}/nope.gob.br", "--print-summary")
    assert got.returncode == 1
    assert f"cannot import {base}/nope.gob.br: HTTP 404" in got.stderr
    assert "Traceback" not in got.stderr


def test_a_download_over_the_limit_is_refused(http_root: tuple[str, Path]) -> None:
    base, root = http_root
    from am_dbg.recordings.download import download

    (root / "big.amdbg").write_bytes(b"x" * 5000)
    with pytest.raises(RecordingError, match="over the limit of 1000"):
        download(f"{base}/big.amdbg", limit=1000)


def test_export_under_a_go_dump_name_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "x.gob.br"
    got = am_dbg("-i", str(FIXTURE), "--headless", "--export-data", str(out))
    assert got.returncode == 2
    assert "am-dbg writes .amdbg recordings" in got.stderr and "x.amdbg" in got.stderr
    assert not out.exists() and not list(tmp_path.iterdir())
    ok = am_dbg("-i", str(FIXTURE), "--headless", "--export-data", str(tmp_path / "x.amdbg"))
    assert ok.returncode == 0, ok.stderr
    assert (tmp_path / "x.amdbg").read_bytes().startswith(b"AMDBG")
