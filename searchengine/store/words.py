"""The catalog's word index: SQLite FTS5 tables beside the vectors, so codes, numbers, names and
exact phrases are found as typed (the vectors find what things mean, not how they are spelled).

- `segment_words`: the text of every segment that has some (passages, transcripts, OCR text),
  rowid = segment id, stored once (an external-content table over segments.text);
- `file_words`: every file's name and folder, rowid = item id;
- `segment_words_vocab`: how many segments hold each word (fts5vocab), for a word's rarity.

Triggers on segments and items keep them in step inside the writer's own transaction: every
insert, delete (a file's segments go with it, by cascade) and rename changes the word index in
the same commit, so a crash leaves both as last committed. `rebuild` refills them from the
catalog (repair, the migration that adds them).

The tokenizer is unicode61 with its default separators: letters and digits make words, anything
else splits them, so "ZX81-4471-QP" is the words zx81 4471 qp (found whole as a phrase, in part
by "4471" or "ZX81-4471") and "IMG_2041.jpg" is img 2041 jpg; case and accents are folded
("Müller" finds "MULLER"). A part inside one run of letters and digits ("4471" in "ZX814471")
is not a word of its own and is not found (a trigram table would find it, at several times the
size: benchmarks/hybrid.py measures both).
"""

from __future__ import annotations

TOKENIZER = "unicode61 remove_diacritics 2"
SEGMENT_WORDS = "segment_words"
FILE_WORDS = "file_words"
VOCAB = "segment_words_vocab"
TABLES = (SEGMENT_WORDS, FILE_WORDS, VOCAB)

# The file name and its folder of a stored path (SQLite has no basename: rtrim strips every
# character but "/" from the right, leaving the folder with its final slash).
_FOLDER = "rtrim({p}, replace({p}, '/', ''))"
_NAME = "substr({p}, length(rtrim({p}, replace({p}, '/', ''))) + 1)"


def _name(p: str) -> str:
    return _NAME.format(p=p)


def _folder(p: str) -> str:
    return _FOLDER.format(p=p)


SCHEMA = (
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {SEGMENT_WORDS} USING fts5("
    f"text, content='segments', content_rowid='id', tokenize='{TOKENIZER}')",
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {FILE_WORDS} USING fts5(name, folder, tokenize='{TOKENIZER}')",
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {VOCAB} USING fts5vocab({SEGMENT_WORDS}, row)",
    f"""CREATE TRIGGER IF NOT EXISTS segment_words_insert AFTER INSERT ON segments WHEN new.text IS NOT NULL
    BEGIN INSERT INTO {SEGMENT_WORDS}(rowid, text) VALUES (new.id, new.text); END""",
    f"""CREATE TRIGGER IF NOT EXISTS segment_words_delete AFTER DELETE ON segments WHEN old.text IS NOT NULL
    BEGIN INSERT INTO {SEGMENT_WORDS}({SEGMENT_WORDS}, rowid, text) VALUES ('delete', old.id, old.text); END""",
    f"""CREATE TRIGGER IF NOT EXISTS segment_words_update AFTER UPDATE OF text ON segments BEGIN
    INSERT INTO {SEGMENT_WORDS}({SEGMENT_WORDS}, rowid, text) SELECT 'delete', old.id, old.text
        WHERE old.text IS NOT NULL;
    INSERT INTO {SEGMENT_WORDS}(rowid, text) SELECT new.id, new.text WHERE new.text IS NOT NULL; END""",
    f"""CREATE TRIGGER IF NOT EXISTS file_words_insert AFTER INSERT ON items
    BEGIN INSERT INTO {FILE_WORDS}(rowid, name, folder) VALUES (new.id, {_name("new.path")}, {_folder("new.path")});
    END""",
    f"""CREATE TRIGGER IF NOT EXISTS file_words_delete AFTER DELETE ON items
    BEGIN DELETE FROM {FILE_WORDS} WHERE rowid = old.id; END""",
    f"""CREATE TRIGGER IF NOT EXISTS file_words_rename AFTER UPDATE OF path ON items BEGIN
    DELETE FROM {FILE_WORDS} WHERE rowid = old.id;
    INSERT INTO {FILE_WORDS}(rowid, name, folder) VALUES (new.id, {_name("new.path")}, {_folder("new.path")}); END""",
)

REBUILD = (
    f"INSERT INTO {SEGMENT_WORDS}({SEGMENT_WORDS}) VALUES ('delete-all')",
    f"INSERT INTO {SEGMENT_WORDS}(rowid, text) SELECT id, text FROM segments WHERE text IS NOT NULL",
    f"DELETE FROM {FILE_WORDS}",
    f"INSERT INTO {FILE_WORDS}(rowid, name, folder) SELECT id, {_name('path')}, {_folder('path')} FROM items",
)
