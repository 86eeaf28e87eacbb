"""What a query asks of the words: its syntax, its terms as the word index spells them, and which
of them a result holds.

Syntax (on top of plain words, which are searched by meaning and by their words alike):
- `"an exact phrase"`: results must hold the phrase (in their text or their file name);
- `name:STEM` / `name:"two words"`: results' file names must hold it;
- `path:WORD`: results' paths (folders or file name) must hold it.

A term is a run of the words the tokenizer makes (store/words.py: letters and digits, case and
accents folded), matched as a sequence: "ZX81-4471-QP" is the term (zx81, 4471, qp) and finds
exactly that code; "4471" finds it too, as a part.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath

Term = tuple[str, ...]

_WORD = re.compile(r"[^\W_]+")  # letters and digits: unicode61's token characters
_SYNTAX = re.compile(r'(?:(name|path):)?(?:"([^"]*)"?|(\S+))', re.IGNORECASE)


_MARKS = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")  # combining


def words(text: str) -> list[str]:
    """The words the word index makes of `text` (unicode61 remove_diacritics 2, as store/words.py)."""
    if text.isascii():
        return _WORD.findall(text.lower())
    return _WORD.findall(_MARKS.sub("", unicodedata.normalize("NFKD", text.casefold())))


def may_hold(text: str, needles: set[str]) -> bool:
    """False when `text` certainly holds none of the words `needles` (a quick look before `words`)."""
    if not text.isascii():
        return True
    low = text.lower()
    return any(n in low for n in needles)


@dataclass(frozen=True)
class WordQuery:
    """A query's text taken apart: what the vectors get, what the word index gets, what is required."""

    meaning: str  # the words searched by meaning (the query less its name:/path: parts and quotes)
    terms: tuple[Term, ...] = ()  # every word and phrase, each scored by how rare it is
    phrases: tuple[Term, ...] = ()  # quoted: required in the text or the file name
    names: tuple[Term, ...] = ()  # name:…: required in the file name
    paths: tuple[Term, ...] = ()  # path:…: required in the path
    shown: tuple[str, ...] = field(default=(), compare=False)  # the words as typed, for marking them

    @property
    def required(self) -> bool:
        return bool(self.phrases or self.names or self.paths)

    @property
    def empty(self) -> bool:
        return not (self.terms or self.required)

    def satisfied_by(self, text_words: Sequence[str], name_words: Sequence[str], folder_words: Sequence[str]) -> bool:
        """Whether a result with these words meets every requirement."""
        return (
            all(contains(text_words, t) or contains(name_words, t) for t in self.phrases)
            and all(contains(name_words, t) for t in self.names)
            and all(contains(folder_words, t) or contains(name_words, t) for t in self.paths)
        )

    # --- FTS5 match expressions ---------------------------------------------------------------
    def text_match(self, common: set[Term] = frozenset()) -> str | None:
        """The expression for segment texts: every phrase (when any is required), else any term
        that is not `common` (terms most texts hold find nothing worth ranking and cost the most)."""
        if self.phrases:
            return " AND ".join(map(fts_phrase, self.phrases))
        wanted = [t for t in self.terms if t not in common]
        return " OR ".join(map(fts_phrase, wanted)) or None

    def name_match(self, common: set[Term] = frozenset()) -> str | None:
        """The expression for file names and folders: the name:/path: requirements, else any term."""
        required = [f"name : {fts_phrase(t)}" for t in self.names] + [
            f"{{name folder}} : {fts_phrase(t)}" for t in self.paths
        ]
        if required:
            return " AND ".join(required)
        wanted = [t for t in self.terms if t not in common]
        return f"name : ({' OR '.join(map(fts_phrase, wanted))})" if wanted else None


def fts_phrase(term: Term) -> str:
    """A term as an FTS5 phrase."""
    return '"' + " ".join(term) + '"'  # words are letters and digits only: nothing to escape


def contains(haystack: Sequence[str], term: Term) -> bool:
    """Whether the words `term` occur in `haystack` (a list) one after the other."""
    if len(term) <= 1:
        return bool(term) and term[0] in haystack
    first, rest, i = term[0], list(term[1:]), -1
    try:
        while True:
            i = haystack.index(first, i + 1)
            if haystack[i + 1 : i + len(term)] == rest:
                return True
    except ValueError:
        return False


def file_words(path: str) -> tuple[list[str], list[str]]:
    """(name words, folder words) of a path."""
    p = PurePosixPath(path)
    return words(p.name), words(str(p.parent))


def parse(text: str) -> WordQuery:
    """A query's text taken apart (see the module docstring)."""
    meaning, terms, phrases, names, paths, shown = [], [], [], [], [], []
    for match in _SYNTAX.finditer(text):
        prefix, quoted, bare = match.group(1), match.group(2), match.group(3)
        value = quoted if quoted is not None else bare
        term = tuple(words(value))
        if prefix:
            if term:
                (names if prefix.lower() == "name" else paths).append(term)
                shown.append(value)
            continue
        meaning.append(value)
        if not term:
            continue
        shown.append(value)
        terms.append(term)
        if quoted is not None:
            phrases.append(term)
    return WordQuery(
        meaning=" ".join(m for m in meaning if m).strip(),
        terms=tuple(dict.fromkeys(terms)),
        phrases=tuple(dict.fromkeys(phrases)),
        names=tuple(names),
        paths=tuple(paths),
        shown=tuple(shown),
    )
