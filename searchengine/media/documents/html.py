"""HTML and XHTML: the main text of a page (selectolax's lexbor parser), without scripts, styles,
navigation, banners, sidebars, footers or forms.

Chosen over trafilatura by benchmarks/documents.py: on pages with navigation, scripts and footers
both keep the article and drop the rest, and selectolax is many times faster (see the results).
"""

from __future__ import annotations

import re
from pathlib import Path

from searchengine.errors import DecodeError
from searchengine.media.documents.base import MiB, ReadOptions, check_size, one_line, text_extraction
from searchengine.media.passages import Extraction

MAX_HTML_BYTES = 16 * MiB  # a page's markup read (its scripts and styles included)

# Never text a reader sees in the page's body.
DROPPED = (
    "script",
    "style",
    "noscript",
    "template",
    "svg",
    "math",
    "canvas",
    "iframe",
    "object",
    "embed",
    "nav",
    "aside",
    "form",
    "button",
    "select",
    "dialog",
    "head",
)
DROPPED_ROLES = ("navigation", "banner", "contentinfo", "complementary", "search", "menu", "menubar", "dialog")
# Page furniture outside the main content; inside <main> or <article> a header or footer belongs to it.
FURNITURE = ("header", "footer")
# Class or id words of page furniture (a word of the name, split at spaces, dashes and underscores).
FURNITURE_NAMES = frozenset(
    {
        "nav",
        "navbar",
        "navigation",
        "menu",
        "menubar",
        "breadcrumb",
        "breadcrumbs",
        "cookie",
        "cookies",
        "consent",
        "sidebar",
        "share",
        "sharing",
        "social",
        "advert",
        "advertisement",
        "ads",
        "promo",
        "newsletter",
        "related",
        "skip",
        "toc",
        "pagination",
        "footer",
        "copyright",
        "comments",
    }
)
_NAME_PARTS = re.compile(r"[\s_-]+")
MAIN = ("main", "[role=main]", "article")
BLOCKS = (
    "p",
    "div",
    "section",
    "article",
    "main",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "li",
    "dt",
    "dd",
    "pre",
    "blockquote",
    "figcaption",
    "caption",
    "table",
    "tr",
    "br",
    "hr",
    "address",
    "details",
    "summary",
    "ul",
    "ol",
    "dl",
    "figure",
)
CELLS = ("td", "th")

_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9._-]+)""", re.I)
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
_BREAKS = re.compile(r"\s*\n\s*\n\s*")


def read_html(path: Path, options: ReadOptions) -> Extraction:
    check_size(path, options)
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_HTML_BYTES)
    except OSError as exc:
        raise DecodeError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    try:
        blocks = html_blocks(decode_markup(raw))
    except Exception as exc:  # the parser is lenient; this is for the unforeseen
        raise DecodeError(f"{path}: not a readable HTML page ({one_line(exc)})") from exc
    extraction = text_extraction(blocks, options)
    if len(raw) == MAX_HTML_BYTES and extraction.truncated is None:
        return Extraction(
            extraction.passages, truncated=f"only the first {MAX_HTML_BYTES // MiB} MiB of the page were read"
        )
    return extraction


def decode_markup(raw: bytes) -> str:
    """The page's text: its byte-order mark or declared charset, else UTF-8, else detected."""
    if raw.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-8-sig" if raw[0] == 0xEF else "utf-16", errors="replace")
    declared = _CHARSET.search(raw[:4096])
    if declared:
        try:
            return raw.decode(declared.group(1).decode("ascii"), errors="replace")
        except LookupError:
            pass
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        from charset_normalizer import from_bytes

        best = from_bytes(raw).best()
        return str(best) if best is not None else raw.decode("cp1252", errors="replace")


def html_blocks(markup: str, title: bool = True) -> list[str]:
    """The main text of a page as blocks (paragraphs, headings, list items, table rows), with its
    <title> first when `title` (and the text does not already start with it)."""
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(markup)
    heading = tree.css_first("title") if title else None
    title = _SPACES.sub(" ", heading.text()).strip() if heading is not None else ""
    tree.strip_tags(list(DROPPED))
    _remove(tree.css(", ".join(f"[role={role}]" for role in DROPPED_ROLES) + ", [hidden], [aria-hidden=true]"))
    _remove(
        [
            node
            for node in tree.css("[class], [id]")
            if node.tag not in ("html", "body", "main", "article") and _furniture_name(node)
        ]
    )
    root = _main(tree)
    if root is None:
        return [title] if title else []
    if root.tag == "body":
        tree.strip_tags(list(FURNITURE))
    for node in root.css(", ".join(BLOCKS)):
        node.insert_before("\n\n")
        node.insert_after("\n\n")
    for node in root.css(", ".join(CELLS)):
        node.insert_after(" | ")
    text = _SPACES.sub(" ", root.text(separator=""))
    blocks = [" ".join(b.split()).strip(" |") for b in _BREAKS.split(text)]
    blocks = [b for b in blocks if b]
    if title and (not blocks or title not in blocks[0]):
        blocks.insert(0, title)
    return blocks


def _remove(nodes) -> None:
    """Remove nodes from the tree: the outermost of nested ones only (the rest go with them)."""
    chosen = {node.mem_id for node in nodes}
    for node in nodes:
        parent, nested = node.parent, False
        while parent is not None and not nested:
            nested, parent = parent.mem_id in chosen, parent.parent
        if not nested:
            node.decompose()


def _furniture_name(node) -> bool:
    names = f"{node.attributes.get('class') or ''} {node.attributes.get('id') or ''}".lower()
    return not FURNITURE_NAMES.isdisjoint(_NAME_PARTS.split(names))


def _main(tree):
    """The page's main content: its <main> (or role=main), else its largest <article>, else the body."""
    for selector in MAIN:
        found = tree.css(selector)
        if found:
            return max(found, key=lambda node: len(node.text(separator=" ")))
    return tree.body
