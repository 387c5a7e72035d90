"""The ``jq`` filters the README and ``--help`` show work on real ``--json`` output (issue 13:
the ``stream`` and ``end`` lines must not break them), run through the real ``jq``
(Debian's ``jq``; .ci/run installs it and fails if these tests are skipped).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from bsstream.helptext import COMMANDS
from tests.clirun import bsstream

ROOT = Path(__file__).resolve().parent.parent
JQ = shutil.which("jq")
pytestmark = pytest.mark.skipif(JQ is None, reason="the jq examples need jq (apt-get install jq)")

_FILTER = re.compile(r"\bjq (-r )?'([^']+)'")


def documented_filters() -> list[tuple[str, str]]:
    """Every ``jq [-r] 'FILTER'`` in the README and the commands' examples, once each."""
    texts = [(ROOT / "README.md").read_text(encoding="utf-8")]
    texts += [line for help_ in COMMANDS.values() for line, _ in help_.examples]
    found = [(m.group(1) or "", m.group(2)) for text in texts for m in _FILTER.finditer(text)]
    return list(dict.fromkeys(found))


def test_the_docs_show_jq_filters() -> None:
    filters = [f for _, f in documented_filters()]
    assert ".result[]? | [.start_time, .end_time, .final_label] | @tsv" in filters
    assert ".result[]?.final_label" in filters and "select(.result)" in filters


@pytest.fixture(scope="module")
def scan_json(testdata: Path) -> str:
    # scan: stream, results of both methods and end lines, the richest --json stream
    done = bsstream("scan", "--local", "--json", str(testdata / "01_jfk_16k_mono_s16.wav"))
    assert done.code == 0, done.err
    assert done.out.startswith('{"stream":') and '{"end":' in done.out
    return done.out


@pytest.mark.parametrize(("flag", "jq_filter"), documented_filters())
def test_documented_filter_runs_on_json_output(scan_json: str, flag: str, jq_filter: str) -> None:
    assert JQ is not None
    args = [JQ, *([flag.strip()] if flag else []), jq_filter]
    done = subprocess.run(args, input=scan_json, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip(), "no output"
    assert "null" not in done.stdout.split()  # no line without results slipped through


def test_a_bare_result_filter_stops_as_the_readme_says(scan_json: str) -> None:
    assert JQ is not None
    done = subprocess.run([JQ, ".result[]"], input=scan_json, capture_output=True, text=True, timeout=30)
    assert done.returncode != 0 and "Cannot iterate over null" in done.stderr
    assert "Cannot iterate over null" in (ROOT / "README.md").read_text(encoding="utf-8")
