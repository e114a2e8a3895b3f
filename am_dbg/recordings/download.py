"""`-i http(s)://...`: fetch a recording to a temporary file first, as Go's am-dbg imports URLs.

The download is bounded (`MAX_DOWNLOAD`, default 1 GiB) and every failure is one `RecordingError`
naming the URL and the reason (HTTP status, network error, too large); the file then goes through
the same `load` as a local one.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import unquote, urlparse

from am_dbg.recordings.errors import RecordingError

__all__ = ["MAX_DOWNLOAD", "download", "is_url"]

MAX_DOWNLOAD = 1 << 30
_CHUNK = 1 << 20
_TIMEOUT = 30.0


def is_url(path: str) -> bool:
    return path.startswith(("http://", "https://"))


def download(url: str, limit: int = MAX_DOWNLOAD, timeout: float = _TIMEOUT) -> Path:
    """Fetch `url` into a temporary directory removed at exit; returns the file's path.

    The file keeps the URL's last path part as its name, so messages about it stay readable.
    """
    name = Path(unquote(urlparse(url).path)).name or "download"
    tmp = Path(tempfile.mkdtemp(prefix="am-dbg-"))
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    dest = tmp / name
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp, open(dest, "wb") as out:
            size = resp.headers.get("Content-Length")
            if size is not None and size.isdigit() and int(size) > limit:
                raise RecordingError(
                    f"cannot import {url}: {int(size)} bytes, over the limit of {limit}"
                )
            got = 0
            while chunk := resp.read(_CHUNK):
                got += len(chunk)
                if got > limit:
                    raise RecordingError(f"cannot import {url}: over the limit of {limit} bytes")
                out.write(chunk)
    except urllib.error.HTTPError as err:
        raise RecordingError(f"cannot import {url}: HTTP {err.code} {err.reason}") from None
    except urllib.error.URLError as err:
        raise RecordingError(f"cannot import {url}: {err.reason}") from None
    except (OSError, ValueError) as err:
        raise RecordingError(f"cannot import {url}: {err}") from None
    return dest
