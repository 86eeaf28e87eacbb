"""The catalog's tables: items (files), segments (what is embedded), runs, per-file errors, skipped entries.

A segment's id is its vector's id in the FAISS index. The segment row also keeps the vector
itself, so the catalog alone can rebuild the index after a crash or a change of index type.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text, TypeDecorator
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from searchengine.paths import from_catalog, to_catalog


class FilePath(TypeDecorator):
    """A file name, stored losslessly whatever its bytes (paths.to_catalog), read back exactly."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else to_catalog(value)

    def process_result_value(self, value, dialect):
        return None if value is None else from_catalog(value)


class Base(DeclarativeBase):
    pass


class Meta(Base):
    __tablename__ = "meta"

    key: Mapped[str] = mapped_column(String, primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Item(Base):
    __tablename__ = "items"

    id: Mapped[int] = mapped_column(primary_key=True)
    path: Mapped[str] = mapped_column(FilePath, unique=True)  # absolute
    kind: Mapped[str] = mapped_column(String(16))  # image | text | audio | video
    size: Mapped[int]
    mtime_ns: Mapped[int]
    content_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16), default="ok")  # ok | failed
    error: Mapped[str | None] = mapped_column(Text)
    indexed_at: Mapped[datetime]
    taken_at: Mapped[datetime | None]  # photos: EXIF DateTimeOriginal (camera local time), else None
    note: Mapped[str | None] = mapped_column(Text)  # indexed, with a caveat (a long text cut at its first MiB)

    segments: Mapped[list[Segment]] = relationship(
        back_populates="item", cascade="all, delete-orphan", passive_deletes=True, order_by="Segment.ordinal"
    )


class Segment(Base):
    __tablename__ = "segments"

    id: Mapped[int] = mapped_column(primary_key=True)  # = vector id
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"))
    ordinal: Mapped[int]
    char_start: Mapped[int | None]  # text passages: offsets into the decoded document
    char_end: Mapped[int | None]
    t_start: Mapped[float | None]  # audio/video: seconds
    t_end: Mapped[float | None]
    text: Mapped[str | None] = mapped_column(Text)
    page: Mapped[int | None]  # documents: the PDF page (1-based) the passage is on
    source: Mapped[str | None] = mapped_column(String(8))  # passages: "text" (the file's own) or "ocr"
    boxes: Mapped[str | None] = mapped_column(Text)  # OCR: JSON list of the line boxes (4 corners, pixels)
    vector: Mapped[bytes] = mapped_column(LargeBinary)  # float32, encoder dim

    item: Mapped[Item] = relationship(back_populates="segments")

    __table_args__ = (Index("ix_segments_item", "item_id", "ordinal"),)


class Run(Base):
    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    root: Mapped[str] = mapped_column(FilePath)
    model: Mapped[str] = mapped_column(Text)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    added: Mapped[int] = mapped_column(default=0)
    updated: Mapped[int] = mapped_column(default=0)
    unchanged: Mapped[int] = mapped_column(default=0)
    renamed: Mapped[int] = mapped_column(default=0)
    removed: Mapped[int] = mapped_column(default=0)
    failed: Mapped[int] = mapped_column(default=0)


class FileError(Base):
    __tablename__ = "errors"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    path: Mapped[str] = mapped_column(FilePath)
    reason: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime]


class Skipped(Base):
    """Entries under an indexed folder left out on purpose, with the reason (a dangling symlink, a
    link leading outside the folder, a FIFO, an unreadable folder): replaced by every run."""

    __tablename__ = "skipped"

    id: Mapped[int] = mapped_column(primary_key=True)
    path: Mapped[str] = mapped_column(FilePath, index=True)
    reason: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime]
