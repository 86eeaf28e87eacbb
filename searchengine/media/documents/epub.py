"""EPUB: the book's chapters in reading order (the OPF spine), each read as HTML.

Plain zipfile + ElementTree rather than ebooklib, whose AGPL licence does not suit this project.
"""

from __future__ import annotations

import posixpath
import zipfile
from pathlib import Path
from xml.etree import ElementTree

from searchengine.errors import DecodeError
from searchengine.media.documents.base import ReadOptions, check_size, check_zip, one_line, text_extraction
from searchengine.media.documents.html import decode_markup, html_blocks
from searchengine.media.passages import Extraction

CONTAINER = "META-INF/container.xml"
NS = {"c": "urn:oasis:names:tc:opendocument:xmlns:container", "opf": "http://www.idpf.org/2007/opf"}
CHAPTER_TYPES = ("application/xhtml+xml", "text/html")


def read_epub(path: Path, options: ReadOptions) -> Extraction:
    check_size(path, options)
    check_zip(path, options, "EPUB")
    try:
        with zipfile.ZipFile(path) as book:
            blocks = [
                block
                for chapter in _chapters(book)
                for block in html_blocks(decode_markup(book.read(chapter)), title=False)
            ]
    except DecodeError:
        raise
    except Exception as exc:  # a missing part, malformed XML, a damaged member
        raise DecodeError(f"{path}: not a readable EPUB ({one_line(exc)})") from exc
    return text_extraction(blocks, options)


def _chapters(book: zipfile.ZipFile) -> list[str]:
    """Zip member names of the chapters, in the spine's order (the navigation document left out)."""
    container = ElementTree.fromstring(book.read(CONTAINER))
    rootfile = container.find(".//c:rootfile", NS)
    if rootfile is None:
        raise ValueError("container.xml names no package document")
    opf_path = rootfile.get("full-path", "")
    opf = ElementTree.fromstring(book.read(opf_path))
    base = posixpath.dirname(opf_path)
    manifest = {item.get("id"): item for item in opf.iterfind(".//opf:manifest/opf:item", NS)}
    chapters = []
    for ref in opf.iterfind(".//opf:spine/opf:itemref", NS):
        item = manifest.get(ref.get("idref"))
        if (
            item is None
            or item.get("media-type") not in CHAPTER_TYPES
            or "nav" in (item.get("properties") or "").split()
        ):
            continue
        chapters.append(posixpath.normpath(posixpath.join(base, item.get("href", ""))))
    return chapters
