"""File names as Linux has them: bytes, not always UTF-8.

Python hands a name that is not valid UTF-8 over as a str with lone surrogates in place of the bad
bytes (PEP 383, `os.fsdecode`), which opens the file again but cannot be written to SQLite or to a
UTF-8 stream. So:
- the catalog stores `to_catalog(path)`: the same text, except that each such byte becomes ESCAPE
  and its two hex digits, and ESCAPE itself (a control character no real name uses) is written
  the same way; `from_catalog` gives back the exact str, hence the exact bytes;
- what is shown (terminal, JSON, the web page) is `printable(path)`: U+FFFD for each bad byte;
- JSON carries the exact name as base64 in `path_bytes` where `path` could not show it (as
  ripgrep's JSON output does).
"""

from __future__ import annotations

import base64
import codecs
import os
import re

ESCAPE = "\x01"
_TO_ESCAPE = re.compile("[\x01\udc80-\udcff]")
_ESCAPED = re.compile("\x01([0-9A-F]{2})")
REPLACE_ERRORS = "searchengine-replace"  # codec error handler: U+FFFD for what a UTF-8 stream cannot take


def _escape_byte(match: re.Match) -> str:
    code = ord(match.group())
    return f"{ESCAPE}{code - 0xDC00 if code >= 0xDC80 else code:02X}"


def _unescape_byte(match: re.Match) -> str:
    value = int(match.group(1), 16)
    return chr(0xDC00 + value) if value >= 0x80 else chr(value)


def to_catalog(path: str) -> str:
    """The text stored for a path: valid UTF-8 whatever the name's bytes, and order-preserving for
    prefixes (each character is encoded on its own), so `LIKE 'root/%'` still finds a folder's files."""
    return _TO_ESCAPE.sub(_escape_byte, path)


def from_catalog(text: str) -> str:
    """The path a stored text stands for (inverse of to_catalog)."""
    return _ESCAPED.sub(_unescape_byte, text) if ESCAPE in text else text


def is_printable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def printable(text: str) -> str:
    """`text` as it can be shown and sent: each byte of the name that is not UTF-8 becomes U+FFFD."""
    if is_printable(text):
        return text
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:  # a surrogate no file name decodes to
        return text.encode("utf-8", "replace").decode("utf-8")


def one_line(message: str) -> str:
    """A message about files as it is shown and stored: printable, on one line (names may hold newlines)."""
    return printable(message).replace("\r", " ").replace("\n", " ")


def json_path(path: str) -> dict:
    """{"path": shown} plus, for a name that is not UTF-8, {"path_bytes": its bytes in base64}."""
    if is_printable(path):
        return {"path": path}
    return {"path": printable(path), "path_bytes": base64.b64encode(os.fsencode(path)).decode("ascii")}


def _replace_unencodable(error: UnicodeError):
    if not isinstance(error, UnicodeEncodeError):
        raise error
    utf8 = error.encoding.lower().replace("-", "").replace("_", "") in ("utf8", "utf8sig")
    mark = "\ufffd".encode("utf-8") if utf8 else "?"  # the UTF-8 codec takes bytes, or ASCII text
    return mark * (error.end - error.start), error.end


codecs.register_error(REPLACE_ERRORS, _replace_unencodable)
