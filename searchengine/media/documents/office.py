"""Word (.docx, python-docx) and OpenDocument text (.odt, odfpy): paragraphs, headings, lists and
tables in document order, a table row as one line of its cells."""

from __future__ import annotations

from pathlib import Path

from searchengine.errors import DecodeError
from searchengine.media.documents.base import ReadOptions, check_size, check_zip, one_line, text_extraction
from searchengine.media.passages import Extraction

CELL_SEPARATOR = " | "


def read_docx(path: Path, options: ReadOptions) -> Extraction:
    import docx

    check_size(path, options)
    check_zip(path, options, "Word (.docx)")
    try:
        document = docx.Document(str(path))
        blocks = list(_docx_blocks(document))
    except Exception as exc:  # python-docx raises KeyError, lxml errors, … on a damaged package
        raise DecodeError(f"{path}: not a readable Word document ({one_line(exc)})") from exc
    return text_extraction(blocks, options)


def _docx_blocks(container):
    from docx.table import Table

    for item in container.iter_inner_content():
        if isinstance(item, Table):
            for row in item.rows:
                yield _row([cell.text for cell in row.cells])
        else:
            yield item.text


def _row(cells: list[str]) -> str:
    """A table row as one line; a merged cell (repeated by the library for each column it spans) once."""
    kept = [c.strip() for i, c in enumerate(cells) if i == 0 or c != cells[i - 1]]
    return CELL_SEPARATOR.join(c.replace("\n", " ") for c in kept if c)


def read_odt(path: Path, options: ReadOptions) -> Extraction:
    from odf.opendocument import load

    check_size(path, options)
    check_zip(path, options, "OpenDocument text (.odt)")
    try:
        blocks = list(_odt_blocks(load(str(path)).text))
    except Exception as exc:  # odfpy raises KeyError, SAX errors, … on a damaged package
        raise DecodeError(f"{path}: not a readable OpenDocument text ({one_line(exc)})") from exc
    return text_extraction(blocks, options)


def _odt_blocks(element):
    from odf.teletype import extractText

    for child in element.childNodes:
        name = _name(child)
        if name in ("p", "h"):
            yield extractText(child)
        elif name == "table":
            for row in child.getElementsByType(_table_row()):
                yield _row([" ".join(_odt_blocks(cell)) for cell in row.childNodes if _name(cell) == "table-cell"])
        elif name in (
            "list",
            "list-item",
            "list-header",
            "section",
            "index-body",
            "table-of-content",
            "alphabetical-index",
            "illustration-index",
            "bibliography",
        ):
            yield from _odt_blocks(child)


def _name(element) -> str | None:
    return getattr(element, "qname", (None, None))[1]


def _table_row():
    from odf.table import TableRow

    return TableRow
