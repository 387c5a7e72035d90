"""bsstream replay: round trips (the JSON lines byte for byte, plain output equal to a live
run's), grouping by source, events and stats lines, malformed lines with their line numbers,
exit codes through click, and a reader closing the pipe."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from bsstream.protocol.jsonlines import EventLine, decode_line
from bsstream.protocol.results import ResultMessage
from bsstream.protocol.stats import Stats
from bsstream.protocol.stream import NullSink, StreamInfo, StreamOutcome
from bsstream.protocol.summary import summarize
from bsstream.render.jsonl import JsonlSink
from bsstream.render.live import LiveSink
from bsstream.render.plain import PlainSink
from bsstream.replay import load_replay, replay_command, replay_file
from bsstream.status import ExitStatus
from tests.test_render_support import DEEPFAKE, STREAM, capture_console, load_messages, output

RECONNECT = {"event": "reconnect", "attempt": 1, "after_seconds": 2.0, "source": "call.wav"}
STATS = {"audio_seconds": 6.0, "rtf": 0.25}


def live_run(sink: object, runs: list[tuple[str, list[ResultMessage], list[dict], dict | None]]) -> None:
    """Drive a sink exactly as the session does: begin, messages/events, end; close."""
    for source, messages, events, stats in runs:
        info = StreamInfo(source=source, method="StreamAudio")
        sink.begin(info)  # type: ignore[attr-defined]
        for i, m in enumerate(messages):
            sink.message(m)  # type: ignore[attr-defined]
            if i == 1:
                for e in events:
                    sink.event(e)  # type: ignore[attr-defined]
        outcome = StreamOutcome(
            status=0,
            summary=summarize(messages),
            messages=len(messages),
            results=sum(len(m.results) for m in messages),
            stats=None if stats is None else Stats.from_json(stats),
        )
        sink.end(info, outcome)  # type: ignore[attr-defined]
    sink.close()  # type: ignore[attr-defined]


RUNS = [
    ("call.wav", load_messages(STREAM), [RECONNECT], STATS),
    ("fake.wav", load_messages(DEEPFAKE), [], None),
]


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    """A --json run of two inputs with a reconnect event and a stats line, as JsonlSink wrote it."""
    path = tmp_path / "run.jsonl"
    with path.open("w", encoding="utf-8", newline="") as f:
        live_run(JsonlSink(f), RUNS)
    return path


def test_saved_file_has_events_and_stats(saved: Path) -> None:
    lines = saved.read_text(encoding="utf-8").splitlines()
    # per input: a stream line, its messages (and events, stats), an end line
    assert len(lines) == 1 + len(RUNS[0][1]) + 1 + 1 + 1 + 1 + len(RUNS[1][1]) + 1
    assert json.loads(lines[0])["stream"]["method"] == "StreamAudio"
    assert json.loads(lines[3]) == RECONNECT
    assert json.loads(lines[len(RUNS[0][1]) + 2]) == {"stats": STATS, "source": "call.wav"}
    assert json.loads(lines[len(RUNS[0][1]) + 3])["end"]["status"] == 0


def test_json_round_trip_is_byte_identical(saved: Path) -> None:
    out = io.StringIO()
    assert replay_file(saved, [JsonlSink(out)]) == 0
    assert out.getvalue().encode("utf-8") == saved.read_bytes()


def test_json_round_trip_through_the_command(saved: Path) -> None:
    result = CliRunner().invoke(replay_command, [str(saved), "--json"])
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes == saved.read_bytes()
    assert result.stderr == ""


def test_plain_replay_equals_the_live_output(saved: Path) -> None:
    live = io.StringIO()
    live_run(PlainSink(live, show_source=True), RUNS)
    result = CliRunner().invoke(replay_command, [str(saved)])
    assert result.exit_code == 0
    assert result.stdout == live.getvalue()
    assert "fake.wav: Deepfake verdict: SPOOFED — 78% of speech, confidence 0.91" in result.stdout


def test_table_replay_equals_the_live_output(saved: Path) -> None:
    live_console, replay_console = capture_console(), capture_console()
    live_run(LiveSink(live_console, show_source=True, redirect_stderr=False), RUNS)
    code = replay_file(saved, [LiveSink(replay_console, show_source=True, redirect_stderr=False)])
    assert code == 0
    assert output(replay_console) == output(live_console)


def test_single_source_plain_has_no_prefix(tmp_path: Path) -> None:
    result = CliRunner().invoke(replay_command, [str(STREAM)])
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0] == "0.00-2.00 segment gender male 1.00"


def test_groups_in_order_of_first_appearance_and_events(tmp_path: Path) -> None:
    a = '{"source":"a","cid":1,"pid":1,"message_id":%d,"result":[]}'
    b = '{"source":"b","cid":1,"pid":1,"message_id":%d,"result":[]}'
    lines = [
        '{"event":"start"}',  # before any result: goes to the first source
        b % 0,
        a % 0,
        '{"event":"reconnect"}',  # no source: the source being read (a)
        b % 1,
        '{"stats":{"n":1},"source":"b"}',
        '{"event":"late"}',  # after b's stats: the next source to appear (a)
        a % 1,
    ]
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    log = load_replay(path)
    assert log.error is None
    assert [g.source for g in log.groups] == ["b", "a"]
    b_group, a_group = log.groups
    assert b_group.stats == {"n": 1}
    assert [getattr(i, "message_id", i) for i in b_group.items] == [{"event": "start"}, 0, 1]
    assert [getattr(i, "message_id", i) for i in a_group.items] == [
        0,
        {"event": "reconnect"},
        {"event": "late"},
        1,
    ]


class Recorder(NullSink):
    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []

    def begin(self, info: StreamInfo) -> None:
        self.calls.append(("begin", info.source))

    def message(self, message: ResultMessage) -> None:
        self.calls.append(("message", message.message_id))

    def end(self, info: StreamInfo, outcome: StreamOutcome) -> None:
        self.calls.append(("end", (info.method, outcome.messages, outcome.results, outcome.summary.verdict)))

    def close(self) -> None:
        self.calls.append(("close", None))


def test_one_begin_end_per_source_and_method_inferred(tmp_path: Path) -> None:
    # a file written before the stream lines existed: the method is guessed from the tasks
    old = tmp_path / "old.jsonl"
    with old.open("w", encoding="utf-8", newline="") as f:
        live_run(JsonlSink(f, frame=False), RUNS)
    assert '"stream"' not in old.read_text(encoding="utf-8")
    rec = Recorder()
    assert replay_file(old, rec) == 0
    kinds = [c[0] for c in rec.calls]
    assert kinds.count("begin") == 2 and kinds.count("end") == 2 and kinds[-1] == "close"
    ends = [c[1] for c in rec.calls if c[0] == "end"]
    assert ends[0][:3] == ("StreamAudio", 5, 10)  # type: ignore[index]
    assert ends[1][0] == "DeepfakeDetection" and ends[1][3].label == "spoofed"  # type: ignore[index]


# -- malformed input -------------------------------------------------------------------------

GOOD = STREAM.read_text(encoding="utf-8").splitlines()[0]


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ('{"source": "x", "result": [', "not valid JSON (Expecting value at column 28)"),
        ("[1, 2]", "expected a JSON object (a result message, event or stats line), got an array"),
        ('"text"', "got a string"),
        ("null", "got null"),
        (
            '{"foo": 1, "bar": 2}',
            "unknown record: not a result message, event or stats line (keys: foo, bar)",
        ),
        ('{"source": "x", "message_id": 1}', "malformed result message: not a result message (no 'result'"),
        ('{"message_id": "x", "result": []}', "malformed result message: message_id must be an integer"),
        ('{"message_id": 1, "result": {}}', "malformed result message: result must be a list"),
        ('{"message_id": 1, "result": [{"task": 5}]}', "malformed result message: task must be a string"),
        ('{"message_id": 1, "result": [{"prediction": [{"label": null}]}]}', "label must be a string"),
        ('{"message_id": 1, "result": [], "source": 3}', "source must be a string"),
        ('{"stats": [1]}', "stats must be an object"),
        ('{"message_id": 1, "result": [], "source": "\\ud800"}', "lone surrogate"),
    ],
)
def test_malformed_line_reports_file_and_line(tmp_path: Path, bad: str, reason: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(f"{GOOD}\n\n{bad}\n{GOOD}\n", encoding="utf-8")
    err = io.StringIO()
    out = io.StringIO()
    assert replay_file(path, [PlainSink(out, show_source=False)], err=err) == ExitStatus.INPUT
    line = err.getvalue()
    assert line.startswith(f"{path}:3: ") and line.count("\n") == 1
    assert reason in line
    # what came before the bad line is rendered, what came after is not
    assert out.getvalue().startswith("0.00-2.00 segment gender male 1.00\n")
    assert out.getvalue().count("0.00-2.00 segment gender male 1.00") == 1


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "bin.jsonl"
    path.write_bytes(GOOD.encode() + b"\n\xff\xfe garbage\n")
    err = io.StringIO()
    assert replay_file(path, [], err=err) == ExitStatus.INPUT
    assert err.getvalue() == f"{path}:2: not UTF-8 text\n"


def test_missing_file_and_directory(tmp_path: Path) -> None:
    for path in (tmp_path / "nope.jsonl", tmp_path):
        err = io.StringIO()
        assert replay_file(path, [], err=err) == ExitStatus.INPUT
        assert err.getvalue().startswith(f"{path}: cannot read the file: ")


def test_blank_lines_crlf_and_bom_are_fine(tmp_path: Path) -> None:
    path = tmp_path / "dos.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + GOOD.encode() + b"\r\n\r\n   \r\n" + GOOD.encode() + b"\r\n")
    log = load_replay(path)
    assert log.error is None and log.messages == 2


def test_empty_file_is_not_an_error(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text("", encoding="utf-8")
    err = io.StringIO()
    assert replay_file(path, [], err=err) == 0
    assert "no results" in err.getvalue()


def test_decode_line_kinds() -> None:
    assert decode_line("   ") is None
    assert decode_line('{"event":"reconnect"}') == EventLine({"event": "reconnect"})
    assert isinstance(decode_line(GOOD), ResultMessage)


def test_command_exit_codes_and_no_traceback(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(GOOD + "\n[]\n", encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(replay_command, [str(path)])
    assert result.exit_code == ExitStatus.INPUT
    assert (
        result.stderr
        == f"{path}:2: expected a JSON object (a result message, event or stats line), got an array\n"
    )
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)

    result = runner.invoke(replay_command, [str(tmp_path / "missing.jsonl")])
    assert result.exit_code == ExitStatus.INPUT and "cannot read the file" in result.stderr

    result = runner.invoke(replay_command, ["-", "--json"], input=GOOD + "\n")
    assert result.exit_code == 0 and result.stdout == GOOD + "\n"

    result = runner.invoke(replay_command, [])
    assert result.exit_code == ExitStatus.USAGE


def test_output_exports(saved: Path, tmp_path: Path) -> None:
    pytest.importorskip("bsstream.export")
    target = tmp_path / "again.jsonl"
    result = CliRunner().invoke(replay_command, [str(saved), "--json", "--output", str(target)])
    assert result.exit_code == 0, result.stderr
    assert target.read_bytes() == saved.read_bytes() == result.stdout_bytes


def test_reader_closing_the_pipe_ends_quietly(tmp_path: Path) -> None:
    path = tmp_path / "long.jsonl"
    path.write_text((GOOD + "\n") * 20000, encoding="utf-8")
    code = "import sys; from bsstream.replay import replay_command; replay_command(sys.argv[1:])"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()  # like `| head -1`
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0, stderr
    assert first.startswith(b"0.00-2.00 segment gender male 1.00")
    assert stderr == ""
