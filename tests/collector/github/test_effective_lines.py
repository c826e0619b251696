"""The effective-line rule and the file exclusions, against a table of cases taken from the hosted definition."""

import pytest

from collector.github.effective_lines import added_lines, effective_lines_added, excluded_reason, is_effective


@pytest.mark.parametrize("line, counts", [
    ("return total", True),
    ("    x = 1", True),  # "x = 1" is 5 characters
    ("x=1", False),  # 3 characters
    ("  a  b  ", False),  # "a b": whitespace collapsed first
    ("a    bc", True),  # "a bc": 4
    ("", False),
    ("        ", False),
    ("});", False),
    ("  ]  ,  ", False),
    ("*/ ---", False),
    ("=====", False),
    ("# ok", True),  # a comment people write is a line
    ("\u201cHi\u201d", True),  # curly quotes made plain: '"hi"', 4 characters
    ("\u2018a\u2019", False),  # "'a'": 3
    ("import os", True),
    ("x" * 1000, True),
    ("x" * 1001, False),  # minified or generated
])
def test_a_line_counts_when_it_is_effective(line, counts):
    assert is_effective(line) is counts


@pytest.mark.parametrize("path, reason", [
    ("src/app.py", ""),
    ("package-lock.json", "lock file"),
    ("web/yarn.lock", "lock file"),
    ("Cargo.lock", "lock file"),
    ("poetry.lock", "lock file"),
    ("services/api/go.sum", "lock file"),
    ("Gemfile.lock", "lock file"),
    ("node_modules/left-pad/index.js", "vendored dependencies"),
    ("dist/bundle.js", "build output"),
    ("web/build/index.html", "build output"),
    ("target/debug/main.d", "build output"),
    ("static/app.min.js", "generated code"),
    ("proto/api_pb2.py", "generated code"),
    ("api/v1/service.pb.go", "generated code"),
    ("src/__generated__/schema.ts", "generated code"),
    ("tests/fixtures/payload.json", "test fixture or snapshot"),
    ("src/__snapshots__/App.test.js.snap", "test fixture or snapshot"),
    ("tests/test_app.py", ""),  # tests people write count
    ("docs/build-guide.md", ""),  # a name that only contains "build"
    ("src/builder/main.py", ""),
])
def test_files_people_do_not_write_are_excluded(path, reason):
    assert excluded_reason(path) == reason


# A GitHub file patch: hunks only, no ---/+++ headers. A content line of "++" is an added "+".
PATCH = """@@ -1,3 +1,7 @@
 import os
+import sys
+
+def main():
+    return 0
+});
+++counter
-old = 1
\\ No newline at end of file"""


def test_the_added_lines_of_a_patch():
    assert added_lines(PATCH) == ["import sys", "", "def main():", "    return 0", "});", "++counter"]


def test_effective_lines_of_a_file():
    assert effective_lines_added("src/main.py", PATCH) == (4, "")  # import sys, def main():, return 0, ++counter
    assert effective_lines_added("dist/main.js", PATCH) == (0, "build output")
    assert effective_lines_added("logo.png", None) == (0, "no patch (binary or too large)")
    assert effective_lines_added("src/empty.py", "") == (0, "")
