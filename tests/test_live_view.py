"""The live view (bsstream/render/view.py, table.py, live.py): golden screens at 60, 80, 120 and
200 columns for analyze, deepfake, scan and a batch, from a fixed-width colourless capture
console, plus the properties every frame must have at any width (fits, never taller than the
terminal, newest window on screen, no label split, columns that do not move), the status
line, the one label palette, and NO_COLOR.

The recordings in tests/golden/screens/ are emulator runs saved with ``--json`` (the stream,
end and result lines), of the first 20 s of tests/data/10_voxconverse_aepyx_8k_mono_s16_169s.wav
(``call.wav``) and of tests/data/12_tts_orca_en_female_22k_mono_s16.wav (``tts.wav``):

    analyze.jsonl     bsstream analyze --local --json call.wav
    deepfake.jsonl    bsstream deepfake --local --json call.wav
    scan.jsonl        bsstream scan --local --json call.wav
    batch.jsonl       bsstream deepfake --local --json call.wav tts.wav
    embeddings.jsonl  bsstream analyze --local --json --embeddings short.wav   (its first 6 s)

Regenerate the golden screens with UPDATE_GOLDEN=1 (see tests/test_render_support.py).
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from rich.cells import cell_len
from rich.console import Console

from bsstream.protocol.results import ResultMessage
from bsstream.protocol.timeline import Timeline
from bsstream.render.live import LiveSink, _TimelineView
from bsstream.render.palette import PALETTE, label_color
from bsstream.render.table import build_table, plan_layout
from bsstream.render.view import LiveStatus, build_live_view, format_clock, now_lines, status_text
from bsstream.replay import ReplayGroup, load_replay, play
from tests.test_render_support import GOLDEN, assert_golden, capture_console, output

SCREENS = GOLDEN / "screens"
KINDS = ["analyze", "deepfake", "scan", "batch"]
WIDTHS = [60, 80, 120, 200]
HEIGHT = 24
TIME = re.compile(r"\d+\.\d\d-\d+\.\d\d")


def groups(kind: str) -> list[ReplayGroup]:
    log = load_replay(SCREENS / f"{kind}.jsonl")
    assert log.error is None and log.groups
    return log.groups


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def live_frame(group: ReplayGroup, upto: int, *, width: int, height: int, show_source: bool = False) -> str:
    """The frame a terminal of ``width`` x ``height`` shows after ``upto`` messages of
    ``group``, streamed with --realtime: the audio sent 0.3 s past the newest result, 12.7 s
    after the start (a fixed clock)."""
    clock = Clock()
    console = capture_console(width=width, height=height)
    sink = LiveSink(
        console,
        show_source=show_source,
        redirect_stderr=False,
        audio_progress=True,
        realtime=True,
        clock=clock,
    )
    info = group.begin_info()
    sink.begin(info)
    messages = group.messages[:upto]
    newest = max((r.end for m in messages for r in m.results if r.end is not None), default=0.0)
    sink.set_sent(info.source, newest)
    for m in messages:
        sink.message(m)
    sink.set_sent(info.source, min(newest + 0.3, info.duration or newest + 0.3))
    clock.now += 12.7
    frame = capture_console(width=width, height=height)
    frame.print(_TimelineView(sink))
    sink.close()  # stops the Live (its final table goes to ``console``, not to the frame)
    return output(frame)


def end_screen(kind: str, width: int) -> str:
    """What stays on a ``width``-column terminal when the run ends: per input the full window
    table, the summary and the verdict."""
    console = capture_console(width=width, height=HEIGHT)
    log = load_replay(SCREENS / f"{kind}.jsonl")
    sink = LiveSink(console, show_source=len(log.groups) > 1, redirect_stderr=False)
    play(log, sink)
    sink.close()
    return output(console)


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("kind", KINDS)
def test_golden_screens(kind: str, width: int) -> None:
    group = groups(kind)[0]
    upto = max(len(group.messages) * 2 // 3, 1)
    many = kind == "batch"
    frame = live_frame(group, upto, width=width, height=HEIGHT, show_source=many)
    end = end_screen(kind, width)
    text = (
        f"--- live view, {width}x{HEIGHT}, after {upto} of {len(group.messages)} messages ---\n"
        f"{frame}--- when the stream ends ---\n{end}"
    )
    for line in text.splitlines():
        assert cell_len(line) <= width, line
    assert_golden(f"screens/{kind}_{width}.txt", text)


def test_embeddings_show_as_a_dimension_count() -> None:
    (group,) = groups("embeddings")
    asked = live_frame(group, len(group.messages), width=120, height=HEIGHT)
    assert_golden("screens/embeddings_120.txt", asked)
    assert "features" in asked and re.search(r"\b\d+-d\b", asked)
    # the same stream shown without embeddings asked for: no features column, no count
    timeline = timeline_of(group.messages)
    console = capture_console(width=120)
    console.print(build_table(timeline, width=120, embeddings=False))
    assert "features" not in output(console) and not re.search(r"\b\d+-d\b", output(console))


# --- properties of every frame ---------------------------------------------------------------


def timeline_of(messages: list[ResultMessage]) -> Timeline:
    t = Timeline()
    for m in messages:
        t.add(m)
    return t


def known_words(group: ReplayGroup) -> set[str]:
    """Every label and task name of a recording (what a cell may hold, whole)."""
    words = {"seg", "utt"}
    for m in group.messages:
        for r in m.results:
            words.add(r.task)
            words.update(p.label for p in r.predictions)
            words.add(r.final_label)
    return {w for w in words if w}


def split_words(line: str, words: set[str]) -> list[str]:
    """What in a data line is not a whole known word, a posterior, a time or a dimension count
    (a label cut or split across lines would show up here)."""
    pieces = sorted(words, key=len, reverse=True)
    bad: list[str] = []
    i = 0
    while i < len(line):
        if line[i] == " ":
            i += 1
            continue
        for piece in pieces:
            end = i + len(piece)
            if line.startswith(piece, i) and (end == len(line) or line[end] == " "):
                i = end
                break
        else:
            match = re.compile(r"(\d+\.\d\d-\d+\.\d\d|\d\.\d\d|\d+-d)(?= |$)").match(line, i)
            if match is None:
                token = line[i:].split(" ", 1)[0]
                bad.append(token)
                i += len(token)
            else:
                i = match.end()
    return bad


def frame_of(timeline: Timeline, width: int, height: int, duration: float | None) -> str:
    status = LiveStatus(sent=12.3, duration=duration, results=timeline.results, elapsed=7, behind=0.2,
                        realtime=True)  # fmt: skip
    console = capture_console(width=width, height=height)
    console.print(build_live_view(timeline, status, width=width, height=height))
    return output(console)


@pytest.mark.parametrize("kind", ["analyze", "scan", "batch"])
def test_every_frame_fits_and_shows_the_newest_window(kind: str) -> None:
    """Every frame as the messages arrive, at widths from 24 to 240 and heights from 8 to 40:
    never taller than the terminal less a line, no line wider than it, and (from 40 columns)
    the newest window on screen with every label in the table whole."""
    group = groups(kind)[0]
    words = known_words(group)
    duration = group.begin_info().duration
    timeline = Timeline()
    for message in group.messages:
        timeline.add(message)
        if not message.results:
            continue
        newest = timeline.rows[-1]
        window = f"{float(newest.start_time):.2f}-{float(newest.end_time):.2f}"
        for width in [24, 40, 60, 72, 80, 120, 200, 240]:
            for height in [8, 13, 24, 40]:
                frame = frame_of(timeline, width, height, duration)
                lines = frame.rstrip("\n").split("\n")
                assert len(lines) <= height - 1, (width, height)
                assert all(cell_len(line) <= width for line in lines), (width, height)
                if width < 40:
                    continue
                assert window in frame, (width, height)
                rule = next(i for i, x in enumerate(lines) if x.startswith("─"))
                rows = [x for x in lines[rule + 1 :] if TIME.match(x) or x.startswith(" ")]
                for row in rows:
                    assert not split_words(row, words), (width, height, row)


def test_columns_do_not_move_as_rows_arrive() -> None:
    group = groups("analyze")[0]
    for width in WIDTHS:
        headers = set()
        timeline = Timeline()
        for message in group.messages:
            timeline.add(message)
            lines = frame_of(timeline, width, 40, 20.0).split("\n")
            start = next(i for i, x in enumerate(lines) if x.startswith("time"))
            headers.add("\n".join(lines[start : start + 3]).rstrip())
        assert len(headers) == 1, (width, headers)


def test_layout_degrades_in_the_documented_order() -> None:
    timeline = timeline_of(groups("analyze")[0].messages)  # 10 tasks

    def form(width: int) -> tuple[int, bool, int, int]:
        layout = plan_layout(timeline, width, duration=20.0)
        assert layout.total_width <= width
        return layout.decks, layout.posteriors, layout.gap, len(layout.hidden)

    assert form(200) == (1, True, 2, 0)  # everything, with posteriors
    assert form(120) == (1, False, 2, 0)  # labels alone
    assert form(100) == (1, False, 1, 0)  # one space between columns
    assert form(80) == (2, False, 2, 0)  # two decks
    assert form(60) == (2, False, 1, 0)
    assert form(40)[0] == 3 and form(40)[3] > 0  # three decks, and the last tasks left out
    hidden = plan_layout(timeline, 40, duration=20.0).hidden
    assert hidden == tuple(timeline.tasks[-len(hidden) - 1 : -1])  # features is not shown at all
    assert plan_layout(timeline, 80, duration=20.0) == plan_layout(timeline, 80, duration=20.0)


def test_deepfake_is_the_first_lane_in_scan() -> None:
    timeline = timeline_of(groups("scan")[0].messages)
    layout = plan_layout(timeline, 200, duration=20.0)
    assert layout.slots[0] == ("deepfake",)


def test_segment_and_utterance_rows_differ() -> None:
    timeline = timeline_of(groups("analyze")[0].messages)
    console = capture_console(width=200)
    console.print(build_table(timeline, width=200))
    rows = [line for line in output(console).splitlines() if TIME.match(line)]
    assert any(" seg " in r for r in rows) and any(" utt " in r for r in rows)
    coloured = io.StringIO()
    Console(file=coloured, width=200, force_terminal=True, color_system="truecolor").print(
        build_table(timeline, width=200)
    )
    utterance = next(line for line in coloured.getvalue().splitlines() if "utt" in line)
    assert "\x1b[1m" in utterance  # utterance rows: time and level in bold


def test_the_tail_says_how_many_rows_are_hidden() -> None:
    group = groups("analyze")[0]
    frame = live_frame(group, len(group.messages), width=80, height=14)
    assert re.search(r"\d+ earlier rows hidden", frame)


def test_before_the_first_result() -> None:
    group = groups("analyze")[0]
    frame = live_frame(group, 0, width=80, height=24)
    assert frame.splitlines() == [
        "streaming · sent 0.3 s of 20.0 s · no results yet · 0:12 elapsed",
        "waiting for the first result…",
    ]


# --- the status line ---------------------------------------------------------------------------


def test_status_line_wordings() -> None:
    s = LiveStatus(sent=5.0, duration=169.0, results=10, elapsed=6.2, behind=0.3, realtime=True)
    assert status_text(s, 200).plain == (
        "streaming · sent 5.0 s of 169.0 s · 10 results · 0:06 elapsed · 0.3 s behind live"
    )
    assert status_text(s, 80).plain == "streaming · sent 5.0/169.0 s · 10 results · 0:06 · 0.3 s behind live"
    assert status_text(s, 60).plain == "sent 5.0/169.0 s · 10 results · 0:06 · 0.3 s behind"
    assert status_text(s, 40).plain == "5.0/169.0 s · 10 res · 0:06 · lag 0.3 s"
    assert cell_len(status_text(s, 20).plain) == 20
    waiting = LiveStatus(sent=0.0, duration=None, results=0, elapsed=0.2)
    assert status_text(waiting, 80).plain == "waiting for audio · sent 0.0 s · no results yet · 0:00 elapsed"
    no_realtime = LiveStatus(sent=5.0, results=1, elapsed=61, behind=0.3, realtime=False)
    assert status_text(no_realtime, 80).plain == "streaming · sent 5.0 s · 1 result · 1:01 elapsed"
    replayed = LiveStatus(sent=None, results=3, elapsed=0.0)
    assert status_text(replayed, 80).plain == "streaming · 3 results · 0:00 elapsed"
    assert format_clock(3725) == "1:02:05" and format_clock(float("nan")) == "0:00"


def test_sink_measures_sent_and_behind_live() -> None:
    clock = Clock()
    sink = LiveSink(capture_console(), show_source=False, redirect_stderr=False, audio_progress=True,
                    realtime=True, clock=clock)  # fmt: skip
    group = groups("analyze")[0]
    sink.begin(group.begin_info())
    assert sink.status().sent == 0.0 and sink.status().behind is None
    sink.set_sent("call.wav", 2.5)
    sink.set_sent("call.wav", 2.0)  # scan: the other call reports less; the furthest counts
    sink.message(group.messages[0])  # window 0.04-2.04
    clock.now += 3
    status = sink.status()
    assert status.sent == 2.5 and status.behind == pytest.approx(0.46)
    assert status.elapsed == 3 and status.results == len(group.messages[0].results)
    sink.close()


# --- the now lines -------------------------------------------------------------------------------


def test_now_lines_show_every_task_with_its_newest_label() -> None:
    group = groups("analyze")[0]
    timeline = timeline_of(group.messages)
    for width in WIDTHS:
        lines = [line.plain for line in now_lines(timeline, width)]
        text = "\n".join(lines)
        for task in timeline.tasks:
            if task != "features":  # no embedding asked for: nothing to show
                assert task in text
        assert "features" not in text
        assert all(cell_len(line) <= width for line in lines)
    segment = timeline.latest_segment["gender"]
    assert f"{segment.label} {segment.posterior:.2f}" in "\n".join(x.plain for x in now_lines(timeline, 200))


# --- colour ----------------------------------------------------------------------------------------


LABELS = ["male", "female", "neutral", "happy", "angry", "sad", "18 - 22", "bonafide", "spoofed",
          "Spoofed", "", "ñandú 😀", "disengaged", "a label never seen"]  # fmt: skip


def test_one_palette_for_terminal_and_html_report() -> None:
    from bsstream.export.html import label_color as html_label_color

    for label in LABELS:
        assert label_color(label) == html_label_color(label), label
    assert label_color("neutral") in PALETTE
    assert label_color("\ud800") in PALETTE  # a lone surrogate gets a colour, no crash
    assert len({label_color(x) for x in ["happy", "angry", "neutral", "sad"]}) == 4


def test_same_label_same_colour_in_table_now_lines_and_summary() -> None:
    group = groups("analyze")[0]
    timeline = timeline_of(group.messages)
    buf = io.StringIO()
    console = Console(file=buf, width=200, force_terminal=True, color_system="truecolor")
    console.print(build_live_view(timeline, LiveStatus(), width=200, height=60))
    r, g, b = (int(label_color("neutral")[i : i + 2], 16) for i in (1, 3, 5))
    sgr = f"\x1b[38;2;{r};{g};{b}mneutral"
    assert buf.getvalue().count(sgr) > 10  # the now lines and every window


def test_no_color_is_honoured(tmp_path: Path) -> None:
    from bsstream.app import RunConfig, Streams, build_sinks
    from bsstream.settings import Credentials, Endpoint

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    run = RunConfig(
        method="StreamAudio", inputs=[], credentials=Credentials(1, "k"), endpoint=Endpoint("h", 1)
    )

    def sinks(environ: dict[str, str]) -> LiveSink:
        streams = Streams(stdin=io.BytesIO(), stdout=Tty(), stderr=io.StringIO(), stdout_is_tty=True,
                          environ=environ)  # fmt: skip
        (sink,) = [s for s in build_sinks(run, streams) if isinstance(s, LiveSink)]
        return sink

    assert sinks({"NO_COLOR": "1"}).console.no_color
    assert not sinks({}).console.no_color
    assert not sinks({"NO_COLOR": ""}).console.no_color  # set but empty: colour (no-color.org)
    group = groups("analyze")[0]
    buf = io.StringIO()
    console = Console(file=buf, width=120, force_terminal=True, color_system="truecolor", no_color=True)
    console.print(build_live_view(timeline_of(group.messages), LiveStatus(), width=120, height=40))
    styles = set(re.findall(r"\x1b\[([0-9;]*)m", buf.getvalue()))
    assert styles and styles <= {"0", "1", "2"}  # bold and dim only: no colour
    assert "neutral" in buf.getvalue()
