"""A real small tmpfs to put a write-ahead queue on, and ballast to fill it up to a chosen point (tests run as root)."""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from pathlib import Path
from typing import Iterator

PAGE = 4096  # tmpfs hands out space in pages


class SmallDisk:
    """A mounted tmpfs of a few MB: fill() it with ballast so writes fail, free() it so they succeed again."""

    def __init__(self, mount_point: Path):
        self.mount_point = mount_point
        self._ballast: list[Path] = []

    def fill(self, leave_bytes: int = 0) -> None:
        """Take every free page but leave_bytes (whole pages); with inodes, every free inode too."""
        ballast = self._next_ballast()
        fd = os.open(ballast, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            while True:
                try:
                    os.write(fd, b"\0" * PAGE)
                except OSError as error:
                    if error.errno != errno.ENOSPC:
                        raise
                    break
            size = os.fstat(fd).st_size
            os.ftruncate(fd, max(0, size - leave_bytes))
        finally:
            os.close(fd)

    def fill_inodes(self) -> None:
        """Create empty files until the file system has no inode left, so no new file can be made."""
        folder = self._next_ballast()
        folder.mkdir()
        for number in range(1_000_000):
            try:
                (folder / str(number)).touch()
            except OSError as error:
                if error.errno != errno.ENOSPC:
                    raise
                return
        raise AssertionError("the file system did not run out of inodes: mount it with nr_inodes")

    def free(self) -> None:
        for ballast in self._ballast:
            if ballast.is_dir():
                for name in os.listdir(ballast):
                    os.remove(ballast / name)
                ballast.rmdir()
            else:
                ballast.unlink()
        self._ballast = []

    def _next_ballast(self) -> Path:
        ballast = self.mount_point / f"ballast-{len(self._ballast)}"
        self._ballast.append(ballast)
        return ballast


@contextlib.contextmanager
def mounted_tmpfs(mount_point: Path, size: str = "2m", inodes: int | None = None) -> Iterator[SmallDisk]:
    """A tmpfs of this size (and inode count) at mount_point for the duration; unmounted even if the test fails."""
    mount_point.mkdir(parents=True, exist_ok=True)
    options = f"size={size}" + (f",nr_inodes={inodes}" if inodes else "")
    subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(mount_point)], check=True)
    try:
        yield SmallDisk(mount_point)
    finally:
        subprocess.run(["umount", "--lazy", str(mount_point)], check=True)
