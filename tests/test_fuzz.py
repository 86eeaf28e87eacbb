"""A seeded corpus of hostile files and names, indexed by the real command (issue 19, "Also").

Random bytes under every extension we index, real files cut at random offsets or renamed to
another kind, images of extreme or absurd dimensions, names that are not UTF-8 or hold newlines,
control characters, URL syntax or 250 bytes, and entries that are no file at all. The run must end
with exit 0 and no traceback; every file must be indexed or listed with a one-line reason (failed,
or skipped); and its peak memory must stay within a bound of an ordinary run's (measured for the
same process by wait4, so Whisper and both towers are loaded in both).
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from searchengine.store.folder import IndexFolder

from conftest import PHOTOS, REPO, SAMPLES, TEXTS

SEED = 19
EXTENSIONS = {
    "image": [".jpg", ".png", ".gif", ".webp", ".bmp", ".tiff"],
    "text": [".txt", ".md"],
    "audio": [".ogg", ".wav", ".mp3", ".flac"],
    "video": [".mp4", ".mkv", ".webm"],
}
ODD_NAMES = [
    b"caf\xe9",
    b"\xff\xfe\xfd",
    b"new\nline",
    b"tab\there",
    b"-rf --help",
    b"\x01ctrl\x1b[31m",
    b"100% ?q=a#b&c",
    b"quote\"'`",
    b"back\\slash",
    "emoji \U0001f431 \u202eRTL".encode(),
    b"e\xcc\x81 combining",
    b"x" * 240,
    b" leading and trailing ",
]
EXTRA_BYTES = 450 << 20  # over an ordinary run's peak: two decode workers at 96 MB each, and slack


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header declares width x height, with almost no pixel data behind it."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    )


def _corpus(folder: Path, rng: np.random.Generator) -> set[bytes]:
    """Write the hostile corpus; returns the names (bytes, relative) of the regular files in it."""
    real = {
        "image": sorted(PHOTOS.glob("*.jpg"))[:4],
        "text": sorted(TEXTS.glob("*"))[:4],
        "audio": sorted((SAMPLES / "audio").glob("*.ogg")),
    }
    files: set[bytes] = set()
    base = os.fsencode(folder)

    def write(name: bytes, data: bytes) -> None:
        path = base + b"/" + name
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(data)
        files.add(name)

    for i, odd in enumerate(ODD_NAMES):  # odd names on random bytes and on real files
        kind = list(EXTENSIONS)[i % 4]
        ext = EXTENSIONS[kind][i % len(EXTENSIONS[kind])].encode()
        write(odd + b"-random" + ext, rng.bytes(int(rng.integers(0, 20_000))))
        source = real["image" if kind == "video" else kind]
        write(odd + b"-real" + ext, source[i % len(source)].read_bytes())
    for kind, extensions in EXTENSIONS.items():  # real files cut short at random offsets
        for j in range(3 if kind != "audio" else 2):
            source = real["image" if kind == "video" else kind]
            data = source[j % len(source)].read_bytes()
            write(f"cut/{kind}-{j}{extensions[j % len(extensions)]}".encode(), data[: int(rng.integers(0, len(data)))])
    for j, (width, height) in enumerate([(1, 20_000), (30_000, 1), (3, 5_000), (5_000, 4)]):
        path = folder / "shapes" / f"thin-{j}.png"
        path.parent.mkdir(exist_ok=True)
        Image.new("RGB", (width, height), "white").save(path)
        files.add(f"shapes/thin-{j}.png".encode())
    Image.new("RGBA", (9_000, 9_000), (0, 0, 0, 0)).save(folder / "shapes" / "huge-alpha.png", optimize=True)
    Image.new("1", (12_000, 12_000)).save(folder / "shapes" / "bomb.png", optimize=True)
    files |= {b"shapes/huge-alpha.png", b"shapes/bomb.png"}
    write(b"shapes/declared-100000x100000.png", _png_header_only(100_000, 100_000))
    write(b"shapes/declared-60000x2.png", _png_header_only(60_000, 2))
    write(b"texts/utf16.txt", "Notes about a garden, in UTF-16.".encode("utf-16"))
    write(b"texts/one-long-line.md", b"word " * 400_000)
    write(b"texts/binary.txt", b"\0\xff" * 5000)
    write(b"deep/" + b"/".join(b"d%d" % k for k in range(30)) + b"/deep.txt", b"A deep note about coins.")
    (folder / "dangling.jpg").symlink_to(folder / "nowhere.jpg")
    (folder / "deep" / "loop").symlink_to(folder)
    (folder / "outside.txt").symlink_to("/etc/hostname")
    os.mkfifo(folder / "fifo.mp3")
    return files


def _index(folder: Path, index_dir: Path, home: Path) -> tuple[subprocess.CompletedProcess, int]:
    """`searchengine index` in a process of its own: (result, peak resident bytes of that process)."""
    env = {**os.environ, "SEARCHENGINE_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    out, err = index_dir.with_suffix(".out"), index_dir.with_suffix(".err")
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "searchengine",
                "index",
                str(folder),
                "--index",
                str(index_dir),
                "--json",
                "--quiet",
            ],
            stdout=stdout,
            stderr=stderr,
            env=env,
            cwd=REPO,
        )
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    result = subprocess.CompletedProcess(proc.args, proc.returncode, out.read_bytes(), err.read_bytes())
    return result, usage.ru_maxrss * 1024


@pytest.mark.slow
def test_hostile_corpus_is_indexed_or_reported_within_bounded_memory(tmp_path, session_home):
    ordinary = tmp_path / "ordinary"
    ordinary.mkdir()
    for source in (
        *sorted(PHOTOS.glob("*.jpg"))[:4],
        *sorted(TEXTS.glob("*"))[:2],
        SAMPLES / "audio" / "great_wall_trip.ogg",
    ):
        shutil.copy2(source, ordinary / source.name)
    baseline, baseline_peak = _index(ordinary, tmp_path / "ordinary-index", session_home)
    assert baseline.returncode == 0, baseline.stderr.decode(errors="replace")

    folder = tmp_path / "hostile"
    folder.mkdir()
    files = _corpus(folder, np.random.default_rng(SEED))
    result, peak = _index(folder, tmp_path / "index", session_home)
    stderr = result.stderr.decode("utf-8")  # valid UTF-8, whatever the names
    assert result.returncode == 0 and "Traceback" not in stderr, stderr
    summary = json.loads(result.stdout.decode("utf-8"))

    with IndexFolder.open(tmp_path / "index") as index:
        known = index.catalog.all_files()
        skipped = dict(index.catalog.skipped_files())
    accounted = {os.path.relpath(os.fsencode(p), os.fsencode(folder)): k.status for p, k in known.items()}
    missing = files - set(accounted)
    assert not missing, f"neither indexed nor listed: {sorted(missing)}"
    assert {"ok", "failed"} >= set(accounted.values()) and summary["failed"] == list(accounted.values()).count("failed")
    assert all(e["reason"].strip() and "\n" not in e["reason"] for e in summary["errors"])
    assert {os.path.basename(p) for p in skipped} == {"dangling.jpg", "loop", "outside.txt", "fifo.mp3"}
    assert summary["added"] >= len(ODD_NAMES)  # every real file under an odd name went in
    assert peak <= baseline_peak + EXTRA_BYTES, (
        f"peak {peak / 2**20:.0f} MiB, ordinary run {baseline_peak / 2**20:.0f} MiB"
    )
