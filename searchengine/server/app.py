"""The FastAPI application: the API router, the static web page, error mapping and request guards."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware

from searchengine.encoders.base import Encoder
from searchengine.errors import IndexFormatError, IndexNotFound, SearchEngineError, UsageError, Wording
from searchengine.paths import REPLACE_ERRORS
from searchengine.server.api import router
from searchengine.server.library import FileRefused, ItemNotFound, Library
from searchengine.server.thumbnails import NoThumbnail, Thumbnails, default_folder
from searchengine.version import __version__

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
MAX_UPLOAD = 20 * 1024 * 1024  # bytes in one request body (the query image and its form fields)
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")


# request parameters by their names in the API; what the server was started with, as `searchengine serve` flags
API_PARAMETERS = {"kind": "type", "text": "q", "image": "image", "like": "like", "k": "k", "min_score": "min_score"}


def _parameter(name: str, value) -> str:
    if name in API_PARAMETERS:
        return API_PARAMETERS[name] if value is None else f"{API_PARAMETERS[name]}={value}"
    flag = "--" + name.replace("_", "-")
    return flag if value is None else f"{flag} {value}"


WORDING = Wording(
    option=_parameter,
    actions={
        "repair": "run `searchengine repair` on the index",
        "reindex": "run `searchengine index` on its folder again",
    },
)

_STATUS = [  # most specific first
    (UsageError, 400),
    (ItemNotFound, 404),
    (NoThumbnail, 404),
    (FileRefused, 403),
    (IndexNotFound, 503),
    (IndexFormatError, 503),
    (SearchEngineError, 500),
]


def allowed_hosts_for(bind_host: str) -> list[str]:
    """Host headers to accept. Bound to any loopback address (127.0.0.0/8, ::1, or a name that
    resolves only to those), only loopback names and that address, so a web page elsewhere cannot
    reach the API through DNS rebinding; bound to another address, any name."""
    if not is_loopback(bind_host):
        return ["*"]
    bare = bind_host.strip("[]").lower()
    own = [bare, f"[{bare}]"] if ":" in bare else [bare]
    return list(dict.fromkeys([*LOOPBACK_HOSTS, *own]))


def is_loopback(host: str) -> bool:
    import ipaddress
    import socket

    bare = host.strip("[]")
    try:
        return ipaddress.ip_address(bare).is_loopback
    except ValueError:
        pass
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(bare, None)}
    except OSError:
        return False
    return bool(addresses) and all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addresses)


class PrintableJSON(JSONResponse):
    """JSON whose text is always valid UTF-8: a file name that is not is sent with U+FFFD for its bad bytes."""

    def render(self, content) -> bytes:
        import json

        return json.dumps(content, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")).encode(
            "utf-8", REPLACE_ERRORS
        )


def create_app(
    index_dir: Path,
    device: str = "auto",
    encoder: Encoder | None = None,
    thumbnail_dir: Path | None = None,
    max_upload: int = MAX_UPLOAD,
    allowed_hosts: Sequence[str] = LOOPBACK_HOSTS,
) -> FastAPI:
    """The web app and API for the index at `index_dir` (opened now: a missing index fails here).

    `encoder` is the one that built the index, if already loaded; otherwise it is loaded on `device`.
    """
    library = Library.open(index_dir, device, encoder)
    thumbs = Thumbnails(thumbnail_dir or default_folder(library.index))

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        yield
        thumbs.close()
        library.close()

    app = FastAPI(
        title="searchengine",
        version=__version__,
        lifespan=lifespan,
        default_response_class=PrintableJSON,
        description="Local cross-modal search over an index of photos, documents and recordings.",
    )
    app.state.library = library
    app.state.thumbnails = thumbs
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    @app.exception_handler(SearchEngineError)
    async def one_line(_request: Request, exc: SearchEngineError) -> JSONResponse:
        status = next(code for cls, code in _STATUS if isinstance(exc, cls))
        if status >= 500:
            log.error("%s", exc)
        return PrintableJSON({"detail": exc.render(WORDING)}, status_code=status)

    app.add_middleware(BodyLimit, max_bytes=max_upload)
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts))
    return app


class BodyLimit:
    """Refuse request bodies over `max_bytes`: at once when Content-Length says so, else while reading."""

    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length", b"").strip()
        if declared.isdigit() and int(declared) > self.max_bytes:
            response = JSONResponse({"detail": self._message()}, status_code=413)
            return await response(scope, receive, send)
        seen = 0

        async def limited():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    # HTTPException, which FastAPI lets through its body parsing as it is
                    raise HTTPException(413, detail=self._message())
            return message

        await self.app(scope, limited, send)

    def _message(self) -> str:
        return f"request too large: the query image may be {self.max_bytes // (1024 * 1024)} MB at most"
