"""Run the command in a real pseudo-terminal of a given size, as a user's terminal would run it."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from dataclasses import dataclass

ANSI = re.compile(r"\x1b(\[[0-9;?]*[ -/]*[@-~]|\][^\x07]*\x07|P.*?\x1b\\\\|[78=>])", re.S)


@dataclass
class TerminalRun:
    raw: str  # everything the command wrote, escape sequences included
    returncode: int

    @property
    def text(self) -> str:
        """What is left once escape sequences are taken out, with plain newlines."""
        return ANSI.sub("", self.raw).replace("\r\n", "\n")

    def lines(self) -> list[str]:
        return [line.rstrip("\r") for line in self.text.split("\n")]


def run_in_terminal(
    args,
    columns: int,
    env: dict,
    cwd=None,
    rows: int = 40,
    answers: dict[bytes, bytes] | None = None,
    timeout: float = 600,
) -> TerminalRun:
    """`python -m searchengine ARGS` with stdin, stdout and stderr on a pty `columns` wide. `answers`
    maps a query the program sends to the terminal to the reply the terminal gives (once each)."""
    master, slave = pty.openpty()
    # columns x rows, with a pixel size (10 x 20 per cell) for programs that ask for it
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, columns * 10, rows * 20))
    proc = subprocess.Popen(
        [sys.executable, "-m", "searchengine", *map(str, args)],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env={"TERM": "xterm-256color", **env},
        cwd=cwd,
        start_new_session=True,
    )
    os.close(slave)
    pending = dict(answers or {})
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # the other end closed: the program ended
                break
            if not data:
                break
            chunks.append(data)
            seen = b"".join(chunks)
            for query in [q for q in pending if q in seen]:
                os.write(master, pending.pop(query))
        proc.wait(timeout=max(1, deadline - time.monotonic()))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    return TerminalRun(b"".join(chunks).decode("utf-8", errors="replace"), proc.returncode)
