"""Where serve spends its time under load: py-spy samples of the running process, summed by function.

py-spy is not a dependency of cc-analytics: `.venv/bin/pip install py-spy` to use `--profile`.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

SAMPLES_PER_SECOND = 100
# "function (path/to/file.py:123)": the function and its file, whatever line was running.
_FRAME = re.compile(r"^(?P<function>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")
# Each sample goes to the component of the innermost frame that belongs to one; first match wins, so more
# specific paths come first. C code called from Python (protobuf, chDB) counts for its Python caller.
COMPONENTS = (
    ("parsing request bodies (collector/decode/payload.py)", ("collector/decode/payload.py",)),
    ("decoding to rows (collector/decode)", ("collector/decode/",)),
    ("inserting: clickhouse-connect serializing, chDB", ("clickhouse_connect/", "chdb/")),
    ("gRPC server (grpc)", ("grpc/",)),
    ("HTTP server (aiohttp)", ("aiohttp/",)),
    ("ingest, writer, receivers, health (collector/)", ("collector/",)),
    ("prometheus_client counters", ("prometheus_client/",)),
    # Callbacks in compiled code (grpc.aio's Cython server, C task steps) show as time in asyncio's Handle._run.
    ("asyncio loop and compiled gRPC server code", ("asyncio/",)),
)


def py_spy() -> str | None:
    beside_python = Path(sys.executable).parent / "py-spy"
    return str(beside_python) if beside_python.exists() else shutil.which("py-spy")


def start_recording(pid: int, seconds: float, output: str) -> subprocess.Popen:
    """Sample whichever thread of serve holds the GIL (--gil) for `seconds`, without pausing serve (--nonblocking),
    into collapsed stacks. Serve runs Python on one core at a time, so this is where its capacity goes; chDB's own
    threads, which run without the GIL, show in the CPU by thread instead."""
    executable = py_spy()
    if not executable:
        raise SystemExit("--profile needs py-spy: .venv/bin/pip install py-spy")
    return subprocess.Popen([executable, "record", "--pid", str(pid), "--duration", str(max(int(seconds), 1)),
                             "--rate", str(SAMPLES_PER_SECOND), "--format", "raw", "--gil", "--nonblocking",
                             "--output", output],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _frame(text: str) -> tuple[str, str]:
    match = _FRAME.match(text.strip())
    return (match.group("function"), match.group("file")) if match else (text.strip(), "")


def read_stacks(path: str) -> Counter:
    """Collapsed stacks ("root;...;leaf count" per line) as a Counter of (function, file) tuples, root first."""
    stacks: Counter = Counter()
    for line in Path(path).read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks[tuple(_frame(frame) for frame in stack.split(";"))] += int(count)
    return stacks


def component_of(stack: tuple) -> str:
    for _, file in reversed(stack):
        for name, prefixes in COMPONENTS:
            if file.startswith(prefixes) or any(f"/{prefix}" in file for prefix in prefixes):
                return name
    return "other (threads, runtime)"


def hotspots(stacks: Counter, top: int) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    """(samples per component, samples per innermost function), the largest first."""
    components: Counter = Counter()
    own: Counter = Counter()
    for stack, count in stacks.items():
        components[component_of(stack)] += count
        function, file = stack[-1]
        own[f"{function} ({file})"] += count
    return components.most_common(), own.most_common(top)


def report(path: str, seconds: float, top: int = 12) -> str:
    stacks = read_stacks(path)
    total = sum(stacks.values()) or 1
    components, own = hotspots(stacks, top)

    def line(name: str, count: int) -> str:
        return f"    {count / total:6.1%}  {count / SAMPLES_PER_SECOND:6.1f} s  {name}"

    possible = SAMPLES_PER_SECOND * max(int(seconds), 1)
    lines = [f"profile of serve (py-spy --gil): the GIL was held in {total} of {possible} samples "
             f"({total / possible:.0%}); collapsed stacks in {path}", "  by component:"]
    lines += [line(name, count) for name, count in components]
    lines.append("  innermost functions (self time):")
    lines += [line(name, count) for name, count in own]
    return "\n".join(lines)
