"""Property tests: arbitrary strings (any unicode, control characters, very long ones, odd
numbers) for times, posteriors, labels, task names, levels and sources never crash parsing,
the timeline, the table, the plain lines, the summary or the JSON writer, and the JSON lines
round-trip to the same model. Kept under ~20 s: 200 examples per test, no deadline.
"""

from __future__ import annotations

import io
import json
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from bsstream.protocol.jsonlines import decode_line
from bsstream.protocol.results import (
    Prediction,
    Result,
    ResultMessage,
    message_from_dict,
    message_to_dict,
    parse_number,
)
from bsstream.protocol.stream import StreamInfo, StreamOutcome
from bsstream.protocol.summary import summarize
from bsstream.protocol.timeline import Timeline
from bsstream.render.jsonl import JsonlSink
from bsstream.render.live import LiveSink
from bsstream.render.plain import PlainSink, format_result, has_content
from bsstream.render.summary import summary_lines, summary_to_dict, verdict_line
from bsstream.render.table import build_summary_table, build_table
from tests.test_render_support import capture_console, output

SETTINGS = settings(max_examples=200, deadline=None)

ODD = [
    "",
    " ",
    "0",
    "0.00",
    "2.00",
    "1e-04",
    "nan",
    "NaN",
    "inf",
    "-inf",
    "1e309",
    "-1e308",
    "1e308",
    " 2 ",
    "0,5",
    "abc",
    "ñandú 😀",
    "\x00",
    "\x1b[31mred",
    "[bold]x[/bold]",
    "a\nb",
    "\u2028",
    "\u202eevil",
    "deepfake",
    "segment",
    "utterance",
]
anything = st.one_of(
    st.sampled_from(ODD),
    st.text(),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=200, max_size=3000),  # long ones
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.integers().map(str),
)
maybe = st.one_of(st.none(), anything)

predictions = st.builds(Prediction, label=anything, posterior=maybe, logit=maybe)


@st.composite
def results(draw: st.DrawFn) -> Result:
    preds = draw(st.lists(predictions, max_size=3))
    labels = [p.label for p in preds]
    use_a_label: bool = bool(labels) and draw(st.booleans())
    final: str = draw(st.sampled_from(labels)) if use_a_label else draw(anything)
    return Result(
        id=draw(anything),
        start_time=draw(anything),
        end_time=draw(anything),
        task=draw(st.one_of(st.sampled_from(["emotion", "deepfake", "gender"]), anything)),
        predictions=tuple(preds),
        final_label=final,
        embedding=draw(maybe),
        level=draw(st.one_of(st.none(), st.sampled_from(["segment", "utterance"]), anything)),
    )


messages = st.builds(
    ResultMessage,
    cid=st.integers(min_value=-(2**63), max_value=2**63 - 1),
    pid=st.integers(min_value=-(2**63), max_value=2**63 - 1),
    message_id=st.integers(min_value=-(2**31), max_value=2**31 - 1),
    results=st.lists(results(), max_size=4).map(tuple),
    source=anything,
    method=st.one_of(st.none(), st.sampled_from(["StreamAudio", "DeepfakeDetection"]), anything),
)


@SETTINGS
@given(st.one_of(anything, st.none(), st.integers(), st.floats(), st.booleans()))
def test_parse_number_never_raises(value: object) -> None:
    number = parse_number(value)
    assert number is None or (isinstance(number, float) and math.isfinite(number))


@SETTINGS
@given(st.lists(messages, min_size=1, max_size=4))
def test_json_lines_round_trip(batch: list[ResultMessage]) -> None:
    out = io.StringIO()
    sink = JsonlSink(out)
    for m in batch:
        sink.message(m)
    lines = out.getvalue().split("\n")
    assert lines[-1] == "" and len(lines) == len(batch) + 1  # one line per message, no stray newline
    for line, m in zip(lines[:-1], batch, strict=True):
        data = json.loads(line)
        assert data == message_to_dict(m)
        assert message_from_dict(data) == m
        assert decode_line(line) == m  # what replay reads back


@SETTINGS
@given(st.lists(messages, max_size=4))
def test_table_and_summary_render(batch: list[ResultMessage]) -> None:
    timeline = Timeline()
    for m in batch:
        timeline.add(m)
    console = capture_console(width=100)
    console.print(build_table(timeline, show_source=True))
    console.print(build_table(timeline, max_rows=2, title="x"))
    summary = summarize(batch)
    console.print(build_summary_table(summary))
    verdict = verdict_line(summary)
    assert (verdict is None) == (summary.verdict is None)
    assert "\x1b" not in output(console)
    json.dumps(summary_to_dict(summary), allow_nan=False)
    for line in summary_lines(summary):
        assert "\n" not in line and "\r" not in line


@SETTINGS
@given(st.lists(messages, max_size=4), st.booleans())
def test_plain_lines_are_one_line_per_result(batch: list[ResultMessage], show_source: bool) -> None:
    for m in batch:
        for r in m.results:
            line = format_result(r, source=m.source if show_source else None)
            assert "\n" not in line and "\r" not in line and "\x1b" not in line and "\u2028" not in line
    out = io.StringIO()
    sink = PlainSink(out, show_source=show_source)
    info = StreamInfo(source="x", method="StreamAudio")
    sink.begin(info)
    for m in batch:
        sink.message(m)
    body = out.getvalue()
    assert body.count("\n") == sum(1 for m in batch for r in m.results if has_content(r))  # no empty lines
    assert all(line.strip() for line in body.splitlines())
    sink.end(info, StreamOutcome(status=0))
    sink.close()


@settings(max_examples=50, deadline=None)
@given(st.lists(messages, max_size=3))
def test_live_sink_never_raises(batch: list[ResultMessage]) -> None:
    console = capture_console(width=80, height=12)
    sink = LiveSink(console, show_source=True, refresh_per_second=50, redirect_stderr=False)
    info = StreamInfo(source="x", method="StreamAudio")
    sink.begin(info)
    for m in batch:
        sink.message(m)
    sink.end(info, StreamOutcome(status=0, summary=summarize(batch)))
    sink.close()
