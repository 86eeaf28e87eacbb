"""CLIP's byte-level BPE in plain Python, loaded in a few milliseconds.

Building the `tokenizers` tokenizer of a CLIP model (onnx_clip.py) takes 0.2 s of a cold query,
holding the GIL. This is the same tokenizer, from the same vocabulary and merges, as a compact
`marshal` file read in ~0.03 s; the few words of a query are merged in microseconds. The file is
derived once from the saved `tokenizer.json` and kept only when this port gives exactly the token
ids of the `tokenizers` one on a set of checks (onnx_clip.ClipTokens falls back to that otherwise).

Steps, as in the `tokenizers` set-up: NFC, runs of whitespace to one space, lower case; split
into words with CLIP's pattern; each word's UTF-8 bytes mapped to printable characters (GPT-2's
byte alphabet), `</w>` on its last symbol, merged by rank; start and end tokens around, truncated
to the context length, padded with 0.
"""

from __future__ import annotations

import json
import marshal
import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from searchengine.atomic import atomic_write

FORMAT = 1
WORDS = r"""'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"""  # CLIP's, as onnx_clip._CLIP_SPLIT
_SPACES = re.compile(r"\s+")


@lru_cache(maxsize=1)
def _byte_alphabet() -> list[str]:
    """GPT-2's map of the 256 byte values to printable characters."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    chars = {b: b for b in printable}
    extra = 0
    for b in range(256):
        if b not in chars:
            chars[b] = 256 + extra
            extra += 1
    return [chr(chars[b]) for b in range(256)]


class ClipBpe:
    def __init__(self, vocab: dict[str, int], ranks: dict[str, int], sot: int, eot: int, context: int):
        """`ranks`: merge rank of each symbol pair, keyed "first second" (symbols hold no space)."""
        import regex

        self.vocab = vocab
        self.ranks = ranks
        self.sot, self.eot, self.context = sot, eot, context
        self._words = regex.compile(WORDS)
        self._alphabet = _byte_alphabet()
        self._cache: dict[str, list[int]] = {}

    # --- the marshal file ------------------------------------------------------------------------
    @classmethod
    def from_tokenizer_json(cls, path: Path) -> ClipBpe:
        spec = json.loads(path.read_text(encoding="utf-8"))
        model = spec["model"]
        merges = [m if isinstance(m, str) else " ".join(m) for m in model["merges"]]
        specials = spec["post_processor"]["special_tokens"]
        return cls(
            model["vocab"],
            dict(zip(merges, range(len(merges)))),
            specials["<|startoftext|>"]["ids"][0],
            specials["<|endoftext|>"]["ids"][0],
            spec["truncation"]["max_length"],
        )

    def save(self, path: Path) -> None:
        merges = sorted(self.ranks, key=self.ranks.__getitem__)
        blob = marshal.dumps(
            (FORMAT, list(self.vocab), list(self.vocab.values()), merges, self.sot, self.eot, self.context)
        )
        atomic_write(path, blob)

    @classmethod
    def load(cls, path: Path) -> ClipBpe | None:
        """The tokenizer saved at `path`; None when it is missing, damaged or of another format.
        (Lists zipped into dicts here load twice as fast as marshalled dicts.)"""
        try:
            fmt, tokens, ids, merges, sot, eot, context = marshal.loads(path.read_bytes())
        except (OSError, ValueError, EOFError, TypeError):
            return None
        if fmt != FORMAT:
            return None
        return cls(dict(zip(tokens, ids)), dict(zip(merges, range(len(merges)))), sot, eot, context)

    # --- encoding --------------------------------------------------------------------------------
    def _bpe(self, word: str) -> list[int]:
        ids = self._cache.get(word)
        if ids is not None:
            return ids
        symbols = [*word[:-1], word[-1] + "</w>"]
        while len(symbols) > 1:
            pairs = (f"{a} {b}" for a, b in zip(symbols, symbols[1:]))
            known = [(self.ranks[pair], i) for i, pair in enumerate(pairs) if pair in self.ranks]
            if not known:
                break
            at = min(known)[1]
            first, second = symbols[at], symbols[at + 1]
            merged, i = [], 0
            while i < len(symbols):  # every occurrence of the lowest-ranked pair, left to right
                if i < len(symbols) - 1 and symbols[i] == first and symbols[i + 1] == second:
                    merged.append(first + second)
                    i += 2
                else:
                    merged.append(symbols[i])
                    i += 1
            symbols = merged
        ids = self._cache[word] = [self.vocab[s] for s in symbols]
        return ids

    def ids(self, text: str) -> list[int]:
        text = _SPACES.sub(" ", unicodedata.normalize("NFC", text))
        # one character at a time, as `tokenizers` lowers (a word-final Σ stays σ)
        text = text.lower() if text.isascii() else "".join(map(str.lower, text))
        out = [self.sot]
        for word in self._words.findall(text):
            out += self._bpe("".join(self._alphabet[b] for b in word.encode("utf-8")))
        out = out[: self.context - 1] + [self.eot]
        return out + [0] * (self.context - len(out))

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return np.array([self.ids(t) for t in texts], dtype=np.int64)
