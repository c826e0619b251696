"""Finding the real tools the tests drive (prometheus, promtool, kubectl, ...)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest


def require_tool(name: str, how: str) -> str:
    """The tool on PATH or beside this Python (the virtual environment's bin, where pip puts console scripts);
    missing, the test fails with how to install it (CI installs every tool, so nothing is skipped)."""
    path = shutil.which(name, path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    if path is None:
        pytest.fail(f"{name} is not installed; {how}")
    return path
