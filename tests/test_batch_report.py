"""batch.report (end-of-run table and plain lines, exact text) and batch.progress."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from bsstream.batch.progress import BatchProgress, format_rtf, format_sent
from bsstream.batch.report import (
    InputReport,
    build_report_table,
    format_seconds,
    headline,
    plain_report_lines,
    report_totals,
    status_word,
)
from bsstream.protocol.summary import Summary, TaskSummary


def capture(width: int = 120) -> Console:
    return Console(width=width, color_system=None, file=io.StringIO())


def rendered(renderable: object, width: int = 120) -> str:
    console = capture(width)
    console.print(renderable)
    out = console.file.getvalue()  # type: ignore[attr-defined]
    return "\n".join(line.rstrip() for line in out.splitlines())


def task(name: str, label: str, share: float, level: str | None = "segment") -> TaskSummary:
    return TaskSummary(name, level, label, share, 10.0, 0.8, 5)


ANALYZE = Summary((task("emotion", "neutral", 0.64), task("gender", "male", 0.912)))
DEEPFAKE = Summary((task("deepfake", "spoofed", 0.82, "utterance"),))

REPORTS = [
    InputReport("calls/a.wav", 12.34, 0, 1.2, headline(ANALYZE)),
    InputReport("calls/missing.wav", None, 4, 0.01),
    InputReport("b.mp3", 75.0, 10, 3725.0, headline(DEEPFAKE)),
    InputReport("stdin", None, 3, 0.5),
    InputReport("c.wav", 5.0, 0, 0.0, "", skipped=True),
    InputReport("d.wav", 30.0, 5, 61.0, "emotion neutral 100%"),
]


def test_headline() -> None:
    assert headline(ANALYZE) == "emotion neutral 64% · gender male 91%"
    assert headline(DEEPFAKE) == "SPOOFED 82%"
    assert headline(Summary()) == ""
    both = Summary((task("emotion", "sad", 0.5), task("deepfake", "bonafide", 0.997)))
    assert headline(both) == "BONAFIDE 100% · emotion sad 50%"
    many = Summary(tuple(task(f"t{i}", "x", 0.5) for i in range(5)))
    assert headline(many, max_tasks=2) == "t0 x 50% · t1 x 50% · +3 more"
    assert headline(Summary((task("emo\ntion", "a\x1bb", 0.5),))) == "emo\\x0ation a\\x1bb 50%"


@pytest.mark.parametrize(
    ("code", "word"),
    [
        (0, "ok"),
        (1, "service error (1)"),
        (2, "usage (2)"),
        (3, "auth (3)"),
        (4, "input error (4)"),
        (5, "connection (5)"),
        (6, "output error (6)"),
        (10, "fail-on match (10)"),
        (130, "interrupted (130)"),
        (77, "exit 77"),
    ],
)
def test_status_word(code: int, word: str) -> None:
    assert status_word(code) == word


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "-"), (0.0, "0.0 s"), (12.34, "12.3 s"), (59.96, "1:00"), (75.0, "1:15"), (3725.0, "1:02:05"),
     (float("nan"), "-"), (-1.0, "-")],
)  # fmt: skip
def test_format_seconds(seconds: float | None, text: str) -> None:
    assert format_seconds(seconds) == text


def test_report_table_exact_text() -> None:
    assert rendered(build_report_table(REPORTS)) == "\n".join(
        [
            " input               duration   status                  time   result",
            "─────────────────────────────────────────────────────────────────────────────────────────────────────",
            " calls/a.wav           12.3 s   ok                     1.2 s   emotion neutral 64% · gender male 91%",  # noqa: E501
            " calls/missing.wav          -   input error (4)        0.0 s",
            " b.mp3                   1:15   fail-on match (10)   1:02:05   SPOOFED 82%",
            " stdin                      -   auth (3)               0.5 s",
            " c.wav                  5.0 s   skipped                    -",
            " d.wav                 30.0 s   connection (5)          1:01   emotion neutral 100%",
            "6 inputs: 1 ok, 1 input error, 1 fail-on match, 1 auth, 1 skipped, 1 connection",
        ]
    )


def test_report_table_escapes_names_and_never_parses_markup() -> None:
    out = rendered(build_report_table([InputReport("[bold]x[/bold]\x1b.wav", 1.0, 0, 1.0, "[red]")]))
    assert "[bold]x[/bold]\\x1b.wav" in out and "[red]" in out


def test_plain_report_lines_exact_text() -> None:
    assert plain_report_lines(REPORTS) == [
        "calls/a.wav: ok, audio 12.3 s, took 1.2 s, emotion neutral 64% · gender male 91%",
        "calls/missing.wav: input error (4), took 0.0 s",
        "b.mp3: fail-on match (10), audio 1:15, took 1:02:05, SPOOFED 82%",
        "stdin: auth (3), took 0.5 s",
        "c.wav: skipped, audio 5.0 s",
        "d.wav: connection (5), audio 30.0 s, took 1:01, emotion neutral 100%",
        "6 inputs: 1 ok, 1 input error, 1 fail-on match, 1 auth, 1 skipped, 1 connection",
    ]


def test_totals() -> None:
    assert report_totals([]) == "0 inputs"
    assert report_totals(REPORTS[:1]) == "1 input: 1 ok"


# -- progress ----------------------------------------------------------------------------


def test_progress_text_helpers() -> None:
    assert format_rtf(24.6, 2.0) == "12.3x"
    assert format_rtf(1.0, 0.0) == "-"
    assert format_sent(12.34, 60.0) == "12.3/60.0 s"
    assert format_sent(4.0, None) == "4.0 s"
    assert format_sent(4.0, 0.0) == "4.0 s"


def test_progress_display() -> None:
    now = [100.0]
    stderr = Console(file=io.StringIO(), width=100, color_system=None)
    with BatchProgress(stderr, total_files=3, clock=lambda: now[0]) as progress:
        progress.start_file("calls/a.wav", 60.0)
        progress.start_file("stdin", None)
        now[0] = 102.0
        progress.set_sent("calls/a.wav", 10.0)
        progress.set_sent("calls/a.wav", 12.3)
        progress.set_sent("calls/a.wav", 11.0)  # never goes back
        progress.set_sent("stdin", 2.0)
        progress.set_sent("gone.wav", 5.0)  # not active: ignored
        progress.finish_file("broken.wav", 4)  # failed before it started
        lines = rendered(progress, width=100).splitlines()
        assert [line.split()[0] for line in lines] == ["files", "calls/a.wav", "stdin"]
        assert lines[0].endswith("1/3 · 1 failed · 7.2x")
        assert lines[1].endswith("12.3/60.0 s · 6.2x")
        assert lines[2].endswith("2.0 s · 1.0x")
        progress.finish_file("calls/a.wav", 0)
        progress.finish_file("stdin", 10)
        lines = rendered(progress, width=100).splitlines()
        assert len(lines) == 1 and lines[0].endswith("3/3 · 1 failed · 7.2x")
        assert progress.files_done == 3
        assert progress.audio_seconds == pytest.approx(14.3)


def test_progress_long_names_are_shortened() -> None:
    with BatchProgress(Console(file=io.StringIO(), width=100), total_files=1) as progress:
        progress.start_file("x" * 50 + ".wav", 1.0)
        line = rendered(progress, width=100).splitlines()[1]
        assert line.startswith("…" + "x" * 27 + ".wav ")
