"""The Live loop: what ends up on the console (the full table, the summary, the verdict), the
live tail while streaming, close() on interrupt, and a real-terminal console.

Regenerate the golden files with UPDATE_GOLDEN=1 (see tests/test_render_support.py).
"""

from __future__ import annotations

import io
import threading

from rich.console import Console
from rich.text import Text

from bsstream.protocol.stream import StreamInfo, StreamOutcome
from bsstream.protocol.summary import summarize
from bsstream.render.live import LiveSink, _TimelineView
from tests.test_render_support import DEEPFAKE, STREAM, assert_golden, capture_console, load_messages, output


def run_live(console: Console, paths: list, *, show_source: bool = False) -> None:
    sink = LiveSink(console, show_source=show_source, redirect_stderr=False)
    for path in paths:
        messages = load_messages(path)
        info = StreamInfo(source=messages[0].source, method="StreamAudio")
        sink.begin(info)
        for m in messages:
            sink.message(m)
        sink.end(info, StreamOutcome(status=0, summary=summarize(messages)))
    sink.close()


def test_live_golden() -> None:
    console = capture_console()
    run_live(console, [STREAM])
    assert_golden("live_stream.txt", output(console))


def test_live_deepfake_golden() -> None:
    console = capture_console()
    run_live(console, [DEEPFAKE])
    text = output(console)
    assert text.rstrip("\n").splitlines()[-1] == "Deepfake verdict: SPOOFED — 78% of speech, confidence 0.91"
    assert_golden("live_deepfake.txt", text)


def test_live_two_sources_golden() -> None:
    console = capture_console()
    run_live(console, [STREAM, DEEPFAKE], show_source=True)
    text = output(console)
    assert "Summary: call.wav" in text and "Summary: fake.wav" in text
    assert_golden("live_sources.txt", text)


def test_live_view_shows_the_tail_while_streaming() -> None:
    # 10 lines less the cursor's: status, a "now" line, a blank, header, rule, caption -> 3 rows
    console = capture_console(height=10)
    sink = LiveSink(console, show_source=False, redirect_stderr=False)
    sink.begin(StreamInfo(source="call.wav", method="StreamAudio"))
    for m in load_messages(STREAM):
        sink.message(m)
    view = _TimelineView(sink)
    tail = Console(file=io.StringIO(), width=100, color_system=None)
    tail.print(view)
    assert "2 earlier rows hidden" in tail.file.getvalue()  # type: ignore[attr-defined]
    sink.close()


def test_close_without_end_prints_what_arrived() -> None:
    console = capture_console()
    sink = LiveSink(console, show_source=False, redirect_stderr=False)
    sink.begin(StreamInfo(source="call.wav", method="StreamAudio"))
    for m in load_messages(STREAM)[:2]:
        sink.message(m)
    sink.close()  # interrupt: no end()
    text = output(console)
    assert "0.00-2.00" in text and "2.00-4.00" in text and "Summary" not in text
    sink.close()  # idempotent


def test_no_results() -> None:
    console = capture_console()
    sink = LiveSink(console, show_source=False, redirect_stderr=False)
    info = StreamInfo(source="silence.wav", method="StreamAudio")
    sink.begin(info)
    sink.end(info, StreamOutcome(status=0))
    sink.close()
    assert output(console).strip() == "No results for silence.wav."


def test_on_a_terminal_with_concurrent_refreshes() -> None:
    buf = io.StringIO()
    console = Console(file=buf, width=100, height=20, force_terminal=True, color_system="standard")
    sink = LiveSink(console, show_source=False, refresh_per_second=200, redirect_stderr=False)
    info = StreamInfo(source="call.wav", method="StreamAudio")
    sink.begin(info)
    errors: list[BaseException] = []
    excepthook = threading.excepthook

    def hook(args: threading.ExceptHookArgs) -> None:
        errors.append(args.exc_value or RuntimeError("thread failed"))

    threading.excepthook = hook
    try:
        messages = load_messages(STREAM) * 200
        for m in messages:
            sink.message(m)
        sink.end(info, StreamOutcome(status=0, summary=summarize(messages)))
        sink.close()
    finally:
        threading.excepthook = excepthook
    assert not errors
    plain = Text.from_ansi(buf.getvalue()).plain
    assert "abc-4.00" in plain and "Summary" in plain
