"""`--image URL`: a query image fetched over http(s) into a temporary file, with a size limit and a
timeout (as rclip allows). A value that is not an http(s) URL is a path."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from searchengine.errors import QueryError

MAX_BYTES = 50 << 20  # a photo, not a video
TIMEOUT_S = 20
_CHUNK = 1 << 16


def is_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc)


@contextmanager
def query_image(value: str | None) -> Iterator[Path | None]:
    """The query image as a local path while the block runs: a path as given, or a URL's download
    (removed afterwards)."""
    if value is None:
        yield None
        return
    if not is_url(value):
        if "://" in value:
            raise QueryError(f"--image {value}: give a file, or an http:// or https:// URL")
        yield Path(value).expanduser()
        return
    suffix = PurePosixPath(urlsplit(value).path).suffix[:10]
    fd, name = tempfile.mkstemp(prefix="searchengine-query-", suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as out:
            _download(value, out)
        yield Path(name)
    finally:
        Path(name).unlink(missing_ok=True)


def _download(url: str, out) -> None:
    import urllib.error
    import urllib.request
    from importlib.metadata import version

    request = urllib.request.Request(url, headers={"User-Agent": f"searchengine/{version('searchengine')}"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            length = response.headers.get("Content-Length")
            if length and length.isdigit() and int(length) > MAX_BYTES:
                raise QueryError(
                    f"query image {url} is {int(length) >> 20} MB: images up to {MAX_BYTES >> 20} MB "
                    "can be fetched; download it and give the file"
                )
            received = 0
            while chunk := response.read(_CHUNK):
                received += len(chunk)
                if received > MAX_BYTES:
                    raise QueryError(f"query image {url} is over {MAX_BYTES >> 20} MB: download it and give the file")
                out.write(chunk)
    except urllib.error.HTTPError as exc:
        raise QueryError(f"cannot fetch query image {url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:  # no route, refused, timed out, bad URL
        reason = getattr(exc, "reason", None) or exc
        raise QueryError(f"cannot fetch query image {url}: {reason}") from None
