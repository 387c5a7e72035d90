"""--json: one line per StreamResult, flushed at once, strings exactly as sent; a stream line
first and an end line last per input; events and stats lines; nothing else; a closed reader."""

from __future__ import annotations

import io
import json

import pytest

from bsstream import __version__
from bsstream.protocol.results import message_from_dict, message_to_dict
from bsstream.protocol.stats import Stats
from bsstream.protocol.stream import StreamInfo, StreamOutcome
from bsstream.protocol.summary import summarize
from bsstream.render import OutputClosed
from bsstream.render.jsonl import JsonlSink
from tests.test_render_support import STREAM, BrokenPipeStream, FlushRecorder, load_messages

INFO = StreamInfo(source="call.wav", method="StreamAudio")
STREAM_LINE = (
    '{"stream":{"method":"StreamAudio","methods":["StreamAudio"],"duration":null,"config":{},'
    f'"emulated":false,"bsstream":"{__version__}"}},"source":"call.wav"}}'
)


def test_lines_are_the_fixture_bytes() -> None:
    out = io.StringIO()
    sink = JsonlSink(out)
    sink.begin(INFO)
    for m in load_messages(STREAM):
        sink.message(m)
    sink.end(INFO, StreamOutcome(status=0, summary=summarize(load_messages(STREAM))))
    sink.close()
    # the fixture was written by hand from the contract: same bytes, nothing else (no summary),
    # between the input's stream line and its end line
    lines = out.getvalue().splitlines(keepends=True)
    assert lines[0] == STREAM_LINE + "\n"
    assert "".join(lines[1:-1]) == STREAM.read_text(encoding="utf-8")
    assert json.loads(lines[-1]) == {
        "end": {
            "method": "StreamAudio",
            "status": 0,
            "audio_seconds": 0.0,
            "results": 0,
            "error": None,
            "emulated": False,
        },
        "source": "call.wav",
    }


def test_one_line_per_message_flushed_at_once() -> None:
    out = FlushRecorder()
    sink = JsonlSink(out)
    messages = load_messages(STREAM)
    sink.begin(INFO)
    assert out.getvalue() == STREAM_LINE + "\n" and len(out.flushed) == 1  # the stream line, at once
    for i, m in enumerate(messages, start=1):
        sink.message(m)
        assert len(out.flushed) == i + 1
        assert out.flushed[-1].count("\n") == i + 1 and out.flushed[-1].endswith("\n")
    lines = out.getvalue().splitlines()
    assert len(lines) == len(messages) + 1  # an empty result list is a line too


def test_defaults_present_and_strings_exact() -> None:
    first, second = (json.loads(x) for x in STREAM.read_text(encoding="utf-8").splitlines()[:2])
    out = io.StringIO()
    JsonlSink(out).message(message_from_dict(first))
    line = out.getvalue()
    assert '"message_id":0' in line
    assert json.loads(line)["message_id"] == 0
    out = io.StringIO()
    JsonlSink(out).message(message_from_dict(second))
    line = out.getvalue()
    assert "ñandú 😀" in line  # not \u-escaped
    assert '"posterior":"1e-04"' in line and '"posterior":""' in line
    assert '"final_label":"dry, \\"very\\""' in line
    assert json.loads(line) == message_to_dict(message_from_dict(second))


def test_events_and_stats() -> None:
    out = io.StringIO()
    sink = JsonlSink(out)
    sink.begin(INFO)
    sink.event({"event": "reconnect", "attempt": 1, "offset": 12.5})
    sink.end(INFO, StreamOutcome(status=0))  # no stats: only the end line
    sink.end(
        INFO, StreamOutcome(status=130, audio_seconds=4.25, stats=Stats.from_json({"rtf": 0.5, "chunks": 3}))
    )
    end = '"method":"StreamAudio","status":{},"audio_seconds":{},"results":0,"error":null,"emulated":false'
    assert out.getvalue().splitlines() == [
        STREAM_LINE,
        '{"event":"reconnect","attempt":1,"offset":12.5}',
        '{"end":{' + end.format(0, 0.0) + '},"source":"call.wav"}',
        '{"stats":{"rtf":0.5,"chunks":3},"source":"call.wav"}',
        '{"end":{' + end.format(130, 4.25) + '},"source":"call.wav"}',
    ]


def test_unframed_writer_writes_no_stream_or_end_lines() -> None:
    # replay of a file written before the stream/end lines existed writes it back as it was
    out = io.StringIO()
    sink = JsonlSink(out, frame=False)
    sink.begin(INFO)
    sink.message(load_messages(STREAM)[0])
    sink.end(INFO, StreamOutcome(status=0))
    assert out.getvalue() == STREAM.read_text(encoding="utf-8").splitlines(keepends=True)[0]


def test_closed_reader_raises_output_closed() -> None:
    m = load_messages(STREAM)[0]
    with pytest.raises(OutputClosed):
        JsonlSink(BrokenPipeStream()).message(m)
    closed = io.StringIO()
    closed.close()
    with pytest.raises(OutputClosed):
        JsonlSink(closed).message(m)
    with pytest.raises(OutputClosed):
        JsonlSink(closed).event({"event": "x"})
    JsonlSink(closed).close()
