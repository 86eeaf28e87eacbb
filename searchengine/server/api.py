"""The HTTP API under /api: search (words, an uploaded image, more-like-this), status, and indexed
files and their thumbnails by catalog id."""

from __future__ import annotations

import mimetypes
import os
import tempfile
import time
from pathlib import Path
from typing import Literal

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi import Path as PathParam
from fastapi import Query as Param
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse
from pydantic import BaseModel

from searchengine.errors import DecodeError, QueryError
from searchengine.hits import Hit
from searchengine.kinds import FILTERS, IMAGE, TEXT, VIDEO
from searchengine.media.images import load_image
from searchengine.paths import printable
from searchengine.query import Query
from searchengine.server.library import Library
from searchengine.server.thumbnails import Thumbnails
from searchengine.store.records import MAX_ID

router = APIRouter(prefix="/api")

Kind = Literal[FILTERS]
MAX_K = 200
UPLOAD_CHUNK = 1 << 20
# Indexed files are shown, never run: no scripts, no sniffing a text file into HTML.
# documents served as what they are (a viewer or a download); every other text is served as text/plain
DOCUMENT_TYPES = frozenset(
    {
        "application/pdf",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.oasis.opendocument.text",
        "application/epub+zip",
    }
)
FILE_HEADERS = {"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "sandbox", "Cache-Control": "no-cache"}


class HitOut(BaseModel):
    rank: int
    score: float
    confidence: Literal["high", "medium", "low"]
    raw_score: float
    path: str
    name: str
    kind: str
    start: float | None
    end: float | None
    page: int | None
    text: str | None
    source: str | None
    item_id: int
    segment_id: int
    char_start: int | None
    char_end: int | None
    matched: list[Literal["words", "meaning"]]
    file_url: str
    thumbnail_url: str | None

    @classmethod
    def of(cls, hit: Hit) -> HitOut:
        base = f"/api/items/{hit.item_id}"
        thumbnail = None
        if hit.kind == IMAGE:
            thumbnail = f"{base}/thumbnail"
        elif hit.kind == VIDEO:
            thumbnail = f"{base}/thumbnail?t={hit.start or 0:g}"
        shown = hit.as_json()  # its path as it can be shown (U+FFFD for bytes that are not UTF-8)
        return cls(**shown, name=os.path.basename(shown["path"]), file_url=f"{base}/file", thumbnail_url=thumbnail)


class SearchOut(BaseModel):
    query: str
    took_ms: float
    hits: list[HitOut]


def library(request: Request) -> Library:
    return request.app.state.library


def thumbnails(request: Request) -> Thumbnails:
    return request.app.state.thumbnails


def _run(lib: Library, query: Query, kind: str, min_score: float | None, k: int, **modes: bool) -> SearchOut:
    started = time.perf_counter()
    hits = lib.index.search(query, kind=kind, k=k, min_score=min_score, **modes)
    took = (time.perf_counter() - started) * 1000
    return SearchOut(query=query.describe(), took_ms=round(took, 1), hits=[HitOut.of(h) for h in hits])


MinScore = Param(
    None,
    description="Leave out hits whose calibrated score is below this (off by default: the k best, "
    "each with its confidence).",
)


@router.get("/search", response_model=SearchOut, summary="Search with words, or more like an indexed segment")
def search(
    q: str | None = Param(None, description="What to look for, in words."),
    like: int | None = Param(None, ge=1, le=MAX_ID, description="More like this: a segment_id from an earlier result."),
    type: Kind = Param("any", description="Only results of this kind."),
    k: int = Param(24, ge=1, le=MAX_K, description="Number of results (one per file)."),
    min_score: float | None = MinScore,
    lexical_only: bool = Param(False, description="Match the words only (codes, names, phrases as typed)."),
    semantic_only: bool = Param(False, description="Match by meaning only."),
    lib: Library = Depends(library),
) -> SearchOut:
    if q is None and like is None:
        raise QueryError("nothing to search for: give q=words or like=SEGMENT_ID")
    return _run(
        lib, Query(text=q, like=like), type, min_score, k, lexical_only=lexical_only, semantic_only=semantic_only
    )


@router.post("/search", response_model=SearchOut, summary="Search with an uploaded image (and optional words)")
async def search_image(
    image: UploadFile = File(..., description="The query image (jpg, png, webp, …); the request may be 20 MB at most."),
    q: str | None = Form(None, description="Words to combine with the image."),
    type: Kind = Form("any"),
    k: int = Form(24, ge=1, le=MAX_K),
    min_score: float | None = Form(None),
    lib: Library = Depends(library),
) -> SearchOut:
    suffix = Path(image.filename or "").suffix.lower()[:8]
    with tempfile.NamedTemporaryFile(prefix="query-", suffix=suffix) as tmp:
        while chunk := await image.read(UPLOAD_CHUNK):
            tmp.write(chunk)
        tmp.flush()
        path = Path(tmp.name)
        await run_in_threadpool(_check_image, path)
        query = Query(text=q if q and q.strip() else None, image=path)
        out = await run_in_threadpool(_run, lib, query, type, min_score, k)
    out.query = query.describe().replace(f"image:{path}", f"image:{image.filename or 'upload'}")
    return out


def _check_image(path: Path) -> None:
    try:
        load_image(path)
    except DecodeError as exc:
        reason = str(exc).replace(f"{path}: ", "")
        raise QueryError(f"the uploaded file is not a readable image ({reason})") from None


@router.get("/status", summary="What the index holds")
def status(lib: Library = Depends(library)) -> dict:
    return lib.index.status()


class DuplicateFileOut(BaseModel):
    path: str
    name: str
    size: int
    width: int | None
    height: int | None
    date: str
    item_id: int
    file_url: str
    thumbnail_url: str | None


class DuplicateGroupOut(BaseModel):
    kind: str
    match: Literal["exact", "near"]
    similarity: float
    keep: str
    files: list[DuplicateFileOut]


@router.get("/duplicates", response_model=list[DuplicateGroupOut], summary="Groups of duplicate files, largest first")
def duplicates(
    kind: Kind = Param("any", alias="type", description="Kind of file: any, image, text, audio, video."),
    threshold: float | None = Param(
        None, ge=0, le=1, allow_inf_nan=False, description="How alike near-duplicates must be (default: measured)."
    ),
    exact: bool = Param(False, description="Only files with the same content."),
    lib: Library = Depends(library),
) -> list[DuplicateGroupOut]:
    groups = lib.index.duplicates(kind=kind, threshold=threshold, near=not exact)
    out = []
    for group in groups:
        shown = group.as_json()
        files = [
            DuplicateFileOut(
                **entry,
                name=os.path.basename(entry["path"]),
                file_url=f"/api/items/{entry['item_id']}/file",
                thumbnail_url=f"/api/items/{entry['item_id']}/thumbnail" if group.kind in (IMAGE, VIDEO) else None,
            )
            for entry in shown["files"]
        ]
        out.append(DuplicateGroupOut(**{**shown, "files": files}))
    return out


ItemId = PathParam(..., ge=1, le=MAX_ID, description="A catalog item id (item_id in a search result).")
MAX_SECONDS = 1e7  # about 115 days: later than any video


@router.get("/items/{item_id}/thumbnail", response_class=FileResponse, summary="A JPEG thumbnail of an image or video")
async def thumbnail(
    item_id: int = ItemId,
    t: float = Param(
        0.0, ge=0, le=MAX_SECONDS, allow_inf_nan=False, description="For a video: the time of the frame, in seconds."
    ),
    lib: Library = Depends(library),
    thumbs: Thumbnails = Depends(thumbnails),
) -> FileResponse:
    served = await run_in_threadpool(lib.file, item_id)
    path = await thumbs.get(served, t)
    return FileResponse(path, media_type="image/jpeg", headers={"Cache-Control": "max-age=3600"})


@router.get(
    "/items/{item_id}/file",
    response_class=FileResponse,
    summary="The indexed file itself (HTTP Range requests supported, so audio and video can seek)",
)
def item_file(item_id: int = ItemId, lib: Library = Depends(library)) -> FileResponse:
    served = lib.file(item_id)
    media_type = mimetypes.guess_type(served.path.name)[0] or "application/octet-stream"
    headers = dict(FILE_HEADERS)
    if media_type == "application/pdf":
        # Browsers' PDF viewers refuse to run in a sandboxed document (Chromium shows "blocked"); a
        # PDF's own scripts run in the viewer's isolated process, never with this page's origin.
        del headers["Content-Security-Policy"]
    elif served.kind == TEXT and media_type not in DOCUMENT_TYPES:
        media_type = "text/plain"  # texts, HTML pages among them, are shown as text, never run
    return FileResponse(
        served.path,
        media_type=media_type,
        headers=headers,
        filename=printable(served.path.name),
        content_disposition_type="inline",
    )
