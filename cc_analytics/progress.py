"""A progress bar on stderr: redrawn in place on a terminal, one line per step otherwise (logs, CI, pipes)."""

from __future__ import annotations

import sys
from typing import TextIO

WIDTH = 30


class ProgressBar:
    def __init__(self, total: int, unit: str, stream: TextIO | None = None):
        self.total = max(total, 1)
        self.unit = unit
        self.stream = stream or sys.stderr
        self.interactive = self.stream.isatty()

    def update(self, done: int, detail: str = "") -> None:
        filled = WIDTH * done // self.total
        line = f"[{'#' * filled}{'.' * (WIDTH - filled)}] {done}/{self.total} {self.unit}  {detail}"
        if self.interactive:
            self.stream.write("\r\033[K" + line)
            if done >= self.total:
                self.stream.write("\n")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
