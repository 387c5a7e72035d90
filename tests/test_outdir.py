"""batch.outdir: per-input file names, atomic writes with the completion marker, is_done."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bsstream import __version__
from bsstream.batch.failon import parse_fail_ons
from bsstream.batch.inputs import Input
from bsstream.batch.outdir import OutputDirSink, is_done, is_marker, marker, output_path, read_marker
from bsstream.protocol.results import Prediction, Result, ResultMessage
from bsstream.protocol.stats import Stats
from bsstream.protocol.stream import FanOut, Sink, StreamInfo, StreamOutcome
from bsstream.render.jsonl import JsonlSink

OUT = Path("/out")


def rooted(root: str, rel: str) -> Input:
    return Input(f"{root}/{rel}", Path(root) / rel, Path(root))


def plain(spec: str) -> Input:
    return Input(spec, Path(spec), None)


# -- naming ------------------------------------------------------------------------------


def test_names_mirror_the_relative_path_and_keep_the_extension() -> None:
    taken: set[str] = set()
    assert output_path(OUT, rooted("calls", "a.wav"), taken) == OUT / "a.wav.jsonl"
    assert output_path(OUT, rooted("calls", "2024/05/a.wav"), taken) == OUT / "2024/05/a.wav.jsonl"
    assert output_path(OUT, rooted("calls", "a.mp3"), taken) == OUT / "a.mp3.jsonl"  # no collision
    assert output_path(OUT, Input("-", None, None), taken) == OUT / "stdin.jsonl"
    assert taken == {"a.wav.jsonl", "2024/05/a.wav.jsonl", "a.mp3.jsonl", "stdin.jsonl"}


def test_plain_specs() -> None:
    taken: set[str] = set()
    assert output_path(OUT, plain("x/c.wav"), taken) == OUT / "x/c.wav.jsonl"
    assert output_path(OUT, plain("/abs/dir/d.wav"), taken) == OUT / "d.wav.jsonl"
    assert output_path(OUT, plain("../up/e.wav"), taken) == OUT / "e.wav.jsonl"
    assert output_path(OUT, plain("./f.wav"), taken) == OUT / "f.wav.jsonl"


def test_collisions_get_a_numeric_suffix() -> None:
    taken: set[str] = set()
    names = [
        output_path(OUT, rooted("day1", "a.wav"), taken),
        output_path(OUT, rooted("day2", "a.wav"), taken),
        output_path(OUT, plain("/elsewhere/a.wav"), taken),
        output_path(OUT, rooted("day3", "A.WAV"), taken),  # case-insensitive file systems
        output_path(OUT, rooted("day4", "a.wav-2"), taken),  # would clash with a suffixed name
        output_path(OUT, plain("stdin"), taken),
        output_path(OUT, Input("-", None, None), taken),
    ]
    assert names == [
        OUT / "a.wav.jsonl",
        OUT / "a.wav-2.jsonl",
        OUT / "a.wav-3.jsonl",
        OUT / "A.WAV-4.jsonl",
        OUT / "a.wav-2-2.jsonl",
        OUT / "stdin.jsonl",
        OUT / "stdin-2.jsonl",
    ]
    assert len({str(n).casefold() for n in names}) == len(names)


def test_names_are_the_same_from_run_to_run() -> None:
    inputs = [rooted("c", "x/a.wav"), rooted("c", "b.wav"), plain("d.wav"), rooted("e", "b.wav")]
    first, second = set[str](), set[str]()
    run1 = [output_path(OUT, i, first) for i in inputs]
    run2 = [output_path(OUT, i, second) for i in inputs]
    assert run1 == run2
    assert run1[-1] == OUT / "b.wav-2.jsonl"


# -- the sink ----------------------------------------------------------------------------


def msg(i: int, source: str = "a.wav", label: str = "neutral") -> ResultMessage:
    r = Result(
        id=str(i), start_time=f"{i}.00", end_time=f"{i + 1}.00", task="emotion",
        predictions=(Prediction(label, "0.9"), Prediction("angry", "0.1")), final_label=label,
        level="segment",
    )  # fmt: skip
    return ResultMessage(cid=1, pid=2, message_id=i, results=(r, r), source=source)


INFO = StreamInfo(source="a.wav", method="StreamAudio")


def feed(sink: Sink, outcome: StreamOutcome | None) -> None:
    sink.begin(INFO)
    sink.message(msg(0))
    sink.event({"event": "reconnect", "source": "a.wav", "offset": 1.0})
    sink.message(msg(1, label="héllo"))
    if outcome is not None:
        sink.end(INFO, outcome)


def test_success_writes_the_json_stream_then_the_marker(tmp_path: Path) -> None:
    import io

    path = tmp_path / "deep" / "dir" / "a.wav.jsonl"
    sink = OutputDirSink(path)
    expected = io.StringIO()
    outcome = StreamOutcome(status=0, results=4, stats=Stats.from_json({"audio_seconds": 2.0}))
    feed(FanOut([sink, JsonlSink(expected)]), None)
    assert not path.exists()  # nothing under the final name while streaming
    temps = list(path.parent.iterdir())
    assert len(temps) == 1 and temps[0].name.startswith(".a.wav.jsonl.") and temps[0].suffix == ".tmp"
    sink.end(INFO, outcome)
    JsonlSink(expected).end(INFO, outcome)
    sink.close()
    assert sorted(p.name for p in path.parent.iterdir()) == ["a.wav.jsonl"]
    data = path.read_bytes().decode("utf-8")
    body, last = data.rsplit("\n", 2)[0] + "\n", data.rsplit("\n", 2)[1]
    assert body == expected.getvalue()  # the same bytes as --json
    assert last == (f'{{"complete":true,"source":"a.wav","status":0,"results":4,"bsstream":"{__version__}"}}')
    assert data.endswith("\n")
    assert is_done(path)
    assert read_marker(path) == marker("a.wav", 0, 4)
    assert sink.committed


def test_fail_on_match_is_complete_with_status_10(tmp_path: Path) -> None:
    path = tmp_path / "a.wav.jsonl"
    feed(OutputDirSink(path), StreamOutcome(status=10))
    assert read_marker(path) == marker("a.wav", 10, 4)


def test_marker_takes_status_10_from_the_fail_on_sink(tmp_path: Path) -> None:
    path = tmp_path / "a.wav.jsonl"
    feed(OutputDirSink(path, rules=parse_fail_ons(["emotion=angry>=0.1"])), StreamOutcome(status=0))
    assert read_marker(path) == marker("a.wav", 10, 4)


@pytest.mark.parametrize("status", [1, 3, 4, 5, 130])
def test_failure_leaves_no_file_and_no_temp(tmp_path: Path, status: int) -> None:
    path = tmp_path / "a.wav.jsonl"
    sink = OutputDirSink(path)
    feed(sink, StreamOutcome(status=status, error="boom"))
    sink.close()
    assert list(tmp_path.iterdir()) == []
    assert not is_done(path)
    assert not sink.committed


def test_interrupt_before_end_leaves_nothing(tmp_path: Path) -> None:
    path = tmp_path / "a.wav.jsonl"
    sink = OutputDirSink(path)
    feed(sink, None)
    sink.close()  # the CLI closes every sink on interrupt
    assert list(tmp_path.iterdir()) == []


def test_a_failed_rerun_keeps_the_earlier_complete_file(tmp_path: Path) -> None:
    path = tmp_path / "a.wav.jsonl"
    feed(OutputDirSink(path), StreamOutcome(status=0))
    before = path.read_bytes()
    feed(OutputDirSink(path), StreamOutcome(status=5))
    assert path.read_bytes() == before and is_done(path)


def test_sink_without_begin_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "a.wav.jsonl"
    sink = OutputDirSink(path)
    sink.message(msg(0))
    sink.end(INFO, StreamOutcome(status=0))
    sink.close()
    assert list(tmp_path.iterdir()) == []


# -- is_done -----------------------------------------------------------------------------


def test_is_done_false_for_missing_half_and_killed_files(tmp_path: Path) -> None:
    path = tmp_path / "a.wav.jsonl"
    assert not is_done(path)
    assert not is_done(tmp_path)  # a directory
    feed(OutputDirSink(path), StreamOutcome(status=0))
    full = path.read_bytes()
    lines = full.splitlines(keepends=True)

    killed = tmp_path / "killed.jsonl"  # everything but the marker (killed just before it)
    killed.write_bytes(b"".join(lines[:-1]))
    assert not is_done(killed)

    for cut in range(1, len(lines[-1])):  # the marker itself cut short anywhere
        half = tmp_path / "half.jsonl"
        half.write_bytes(b"".join(lines[:-1]) + lines[-1][:cut])
        assert not is_done(half), cut

    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    assert not is_done(empty)


@pytest.mark.parametrize(
    "last",
    [
        '{"complete":false,"source":"a.wav","status":0,"results":1}',
        '{"complete":"true","source":"a.wav","status":0,"results":1}',
        '{"complete":true,"source":"a.wav","status":4,"results":1}',
        '{"complete":true,"source":"a.wav","status":true,"results":1}',
        '{"complete":true,"status":0,"results":1}',
        '{"complete":true,"source":"a.wav","status":0}',
        '["complete"]',
        "not json",
        "\xff",
    ],
)
def test_is_done_rejects_lines_that_are_not_a_marker(tmp_path: Path, last: str) -> None:
    path = tmp_path / "x.jsonl"
    path.write_bytes(b'{"source":"a.wav","message_id":0,"result":[]}\n' + last.encode("latin-1") + b"\n")
    assert not is_done(path)


def test_is_done_with_a_long_file(tmp_path: Path) -> None:
    path = tmp_path / "a.wav.jsonl"
    sink = OutputDirSink(path)
    sink.begin(INFO)
    for i in range(3000):
        sink.message(msg(i))
    sink.end(INFO, StreamOutcome(status=0))
    assert path.stat().st_size > 100_000
    assert read_marker(path) == marker("a.wav", 0, 6000)
    long_line = tmp_path / "long.jsonl"
    long_line.write_bytes(b'{"x":"' + b"a" * 200_000 + b'"}\n')
    assert not is_done(long_line)


def test_is_marker() -> None:
    assert is_marker(json.loads(json.dumps(marker("stdin", 0, 0))))
    assert not is_marker({"source": "a.wav", "message_id": 0, "result": []})
    assert not is_marker({"event": "reconnect"})
