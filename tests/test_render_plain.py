"""Plain lines: golden output of PlainSink for both fixtures, the line format, flushing per
message, and a closed reader.

Regenerate the golden files with UPDATE_GOLDEN=1 (see tests/test_render_support.py).
"""

from __future__ import annotations

import io

import pytest

from bsstream.protocol.results import Prediction, Result, ResultMessage
from bsstream.protocol.stream import StreamInfo, StreamOutcome
from bsstream.protocol.summary import Summary, TaskSummary, summarize
from bsstream.render import OutputClosed
from bsstream.render.plain import PlainSink, format_result
from bsstream.render.summary import summary_line, summary_lines
from tests.test_render_support import (
    DEEPFAKE,
    STREAM,
    BrokenPipeStream,
    FlushRecorder,
    assert_golden,
    load_messages,
)


def run_plain(messages: list[ResultMessage], *, show_source: bool, with_summary: bool = True) -> str:
    out = io.StringIO()
    sink = PlainSink(out, show_source=show_source)
    by_source: dict[str, list[ResultMessage]] = {}
    for m in messages:
        by_source.setdefault(m.source, []).append(m)
    for source, group in by_source.items():
        info = StreamInfo(source=source, method="StreamAudio")
        sink.begin(info)
        for m in group:
            sink.message(m)
        summary = summarize(group) if with_summary else Summary()
        sink.end(info, StreamOutcome(status=0, summary=summary))
    sink.close()
    return out.getvalue()


def test_plain_golden() -> None:
    assert_golden("plain_stream.txt", run_plain(load_messages(STREAM), show_source=False))


def test_plain_deepfake_golden() -> None:
    text = run_plain(load_messages(DEEPFAKE), show_source=False)
    assert text.splitlines()[-1] == "Deepfake verdict: SPOOFED — 78% of speech, confidence 0.91"
    assert_golden("plain_deepfake.txt", text)


def test_plain_several_sources_golden() -> None:
    text = run_plain(load_messages(STREAM) + load_messages(DEEPFAKE), show_source=True)
    assert all(line.startswith(("call.wav: ", "fake.wav: ")) for line in text.splitlines())
    assert_golden("plain_sources.txt", text)


def test_sink_summarizes_itself_when_the_outcome_has_no_summary() -> None:
    messages = load_messages(STREAM)
    assert run_plain(messages, show_source=False, with_summary=False) == run_plain(
        messages, show_source=False
    )


def test_format_result_examples() -> None:
    r = Result(
        id="1",
        start_time="0.00",
        end_time="2.00",
        task="emotion",
        predictions=(Prediction("neutral", "0.7"),),
        final_label="neutral",
        level="segment",
    )
    assert format_result(r) == "0.00-2.00 segment emotion neutral 0.70"
    assert format_result(r, source="call.wav") == "call.wav: 0.00-2.00 segment emotion neutral 0.70"
    no_level = Result(id="1", start_time="2", end_time="abc", task="t", final_label="x")
    assert format_result(no_level) == "2.00-abc t x"
    odd = Result(
        id="",
        start_time="",
        end_time="1e1",
        task="t\nx",
        predictions=(Prediction("a\tb", "nan"),),
        final_label="a\tb",
        level="utterance",
    )
    assert format_result(odd) == "?-10.00 utterance t\\x0ax a\\x09b"


def test_summary_line_format() -> None:
    t = TaskSummary("emotion", "segment", "neutral", 0.644, 12.0, 0.71, 6)
    assert summary_line(t) == "summary emotion neutral 64% confidence 0.71 level segment"
    bare = TaskSummary("x", None, "y", 1.0, 0.0, None, 1)
    assert summary_line(bare) == "summary x y 100%"
    assert summary_lines(Summary((t, bare))) == [summary_line(t), summary_line(bare)]


def test_one_flush_per_message_and_lines_are_whole() -> None:
    out = FlushRecorder()
    sink = PlainSink(out, show_source=False)
    info = StreamInfo(source="call.wav", method="StreamAudio")
    sink.begin(info)
    messages = load_messages(STREAM)
    for i, m in enumerate(messages):
        before = len(out.flushed)
        sink.message(m)
        assert len(out.flushed) == before + (1 if m.results else 0), i
        assert out.getvalue().endswith("\n") or not out.getvalue()
    assert out.getvalue().count("\n") == sum(len(m.results) for m in messages)


def test_events_write_nothing() -> None:
    out = io.StringIO()
    PlainSink(out, show_source=False).event({"event": "reconnect", "attempt": 1})
    assert out.getvalue() == ""


def test_closed_reader_raises_output_closed() -> None:
    sink = PlainSink(BrokenPipeStream(), show_source=False)
    with pytest.raises(OutputClosed):
        sink.message(load_messages(STREAM)[0])
    closed = io.StringIO()
    closed.close()
    with pytest.raises(OutputClosed):
        PlainSink(closed, show_source=False).message(load_messages(STREAM)[0])
    PlainSink(closed, show_source=False).close()  # closing a dead stream is quiet
