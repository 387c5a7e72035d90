"""Export formats: golden files from a fixed JSON-lines fixture, and format validity checks.

The fixture's second input ends with a connection error, so the two-input goldens
(``export.*``) are partial exports (``NAME.partial.EXT``, each saying so in its own way); the
single-input ones (``single.*``) are complete. The bsstream version is written as
``<VERSION>`` in the golden files.

Regenerate the golden files with ``UPDATE_GOLDEN=1 pytest tests/test_export_formats.py``.
"""

from __future__ import annotations

import csv
import html
import io
import json
import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

from bsstream import __version__
from bsstream.export import SUPPORTED, open_exports
from bsstream.export.csvfile import CsvExport
from bsstream.export.html import HtmlExport, label_color, script_json
from bsstream.export.jsondoc import JsonDocExport
from bsstream.export.jsonl import JsonlExport
from bsstream.export.partial import partial_path
from bsstream.export.subtitles import SrtExport, SubtitleOptions, VttExport
from bsstream.protocol.results import Prediction, Result, ResultMessage, message_from_dict, message_to_dict
from bsstream.protocol.stats import Stats
from bsstream.protocol.stream import METHOD_ANALYZE, Sink, StreamInfo, StreamOutcome
from bsstream.protocol.summary import summarize
from bsstream.status import ExitStatus, UsageError

HERE = Path(__file__).resolve().parent
FIXTURE = HERE / "fixtures" / "export_input.jsonl"
GOLDEN = HERE / "golden" / "export"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"

CONFIG = {"encoding": "LINEAR_PCM", "sample_rate_hertz": 16000}
INFOS = {
    "call.wav": StreamInfo("call.wav", METHOD_ANALYZE, dict(CONFIG), duration=8.0),
    "second.wav": StreamInfo("second.wav", METHOD_ANALYZE, dict(CONFIG)),
}
OUTCOMES: dict[str, dict[str, Any]] = {
    "call.wav": {"status": ExitStatus.SUCCESS, "audio_seconds": 8.0},
    "second.wav": {
        "status": ExitStatus.CONNECTION,
        "audio_seconds": 2.5,
        "error": "second.wav: UNAVAILABLE: connection reset",
    },
}

Item = tuple[str, Any]  # ("message", ResultMessage) | ("event", dict) | ("stats", dict)


def load_fixture(path: Path = FIXTURE) -> list[tuple[str, list[Item]]]:
    """The fixture's lines grouped by input, in order."""
    groups: list[tuple[str, list[Item]]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        data = json.loads(line)
        if "result" in data:
            item: Item = ("message", message_from_dict(data))
        elif "stats" in data:
            item = ("stats", data)
        else:
            item = ("event", data)
        source = data["source"]
        if not groups or groups[-1][0] != source:
            groups.append((source, []))
        groups[-1][1].append(item)
    return groups


def fixture_messages(source: str | None = None) -> list[ResultMessage]:
    return [
        obj
        for src, items in load_fixture()
        for kind, obj in items
        if kind == "message" and (source is None or src == source)
    ]


def drive(sink: Sink, groups: Iterable[tuple[str, list[Item]]], *, close: bool = True) -> None:
    """Feed the sink as the session would: begin, messages/events, end per input; close."""
    for source, items in groups:
        info = INFOS[source]
        sink.begin(info)
        messages: list[ResultMessage] = []
        stats = None
        for kind, obj in items:
            if kind == "message":
                sink.message(obj)
                messages.append(obj)
            elif kind == "event":
                sink.event(obj)
            else:
                stats = obj["stats"]
        outcome = StreamOutcome(
            summary=summarize(messages),
            messages=len(messages),
            results=sum(len(m.results) for m in messages),
            stats=None if stats is None else Stats.from_json(stats),
            **OUTCOMES[source],
        )
        sink.end(info, outcome)
    if close:
        sink.close()


def export_text(
    tmp_path: Path, name: str, factory: Callable[[Path], Sink], *, only: str | None = None
) -> str:
    """The text of the file the export wrote: ``name``, or its partial name for a partial run."""
    path = tmp_path / name
    groups = [g for g in load_fixture() if only is None or g[0] == only]
    sink = factory(path)
    drive(sink, groups)
    written = getattr(sink, "written", None)
    assert written is not None, "nothing written"
    partial = any(OUTCOMES[g[0]]["status"] != ExitStatus.SUCCESS for g in groups)
    assert written == (partial_path(path) if partial else path)
    assert path.exists() == (not partial)  # a partial run never writes the requested name
    return written.read_bytes().decode("utf-8")


def check_golden(name: str, text: str) -> None:
    text = text.replace(__version__, "<VERSION>")
    golden = GOLDEN / name
    if UPDATE:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_bytes(text.encode("utf-8"))
    assert golden.exists(), f"missing golden file {golden} (run with UPDATE_GOLDEN=1)"
    assert text == golden.read_bytes().decode("utf-8"), f"{name} differs from its golden file"


WRITERS: dict[str, Callable[[Path], Sink]] = {
    "jsonl": JsonlExport,
    "json": JsonDocExport,
    "csv": CsvExport,
    "srt": SrtExport,
    "vtt": VttExport,
    "html": HtmlExport,
}


# -- golden files -------------------------------------------------------------------------


@pytest.mark.parametrize("ext", sorted(set(WRITERS) - {"srt", "vtt"}))
def test_golden_two_inputs(tmp_path: Path, ext: str) -> None:
    check_golden(f"export.{ext}", export_text(tmp_path, f"out.{ext}", WRITERS[ext]))


@pytest.mark.parametrize("ext", ["srt", "vtt"])
def test_golden_subtitles_one_file_per_input(tmp_path: Path, ext: str) -> None:
    # several inputs: one file per input (out.<input>.EXT), each complete or partial on its own
    sink = WRITERS[ext](tmp_path / f"out.{ext}")
    drive(sink, load_fixture())
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"out.call.{ext}", f"out.second.partial.{ext}"]
    for name in ("call", "second.partial"):
        check_golden(f"export.{name}.{ext}", (tmp_path / f"out.{name}.{ext}").read_text(encoding="utf-8"))


@pytest.mark.parametrize("ext", ["json", "vtt", "srt", "csv"])
def test_golden_single_input(tmp_path: Path, ext: str) -> None:
    check_golden(f"single.{ext}", export_text(tmp_path, f"out.{ext}", WRITERS[ext], only="call.wav"))


# -- .jsonl -------------------------------------------------------------------------------


FRAMING = ('{"stream":', '{"end":', '{"partial":')


def test_jsonl_is_exactly_the_json_stream(tmp_path: Path) -> None:
    # The fixture is itself a --json stream (messages, an event, a stats line) as written
    # before the stream and end lines: between them, the export holds exactly its lines.
    lines = export_text(tmp_path, "out.jsonl", JsonlExport).splitlines(keepends=True)
    assert "".join(x for x in lines if not x.startswith(FRAMING)) == FIXTURE.read_text(encoding="utf-8")
    records = [json.loads(x) for x in lines]
    framing = [
        (next(iter(r)), r.get("source")) for r in records if next(iter(r)) in ("stream", "end", "partial")
    ]
    assert framing == [
        ("stream", "call.wav"),
        ("end", "call.wav"),
        ("stream", "second.wav"),
        ("end", "second.wav"),
        ("partial", None),
    ]
    assert records[0]["stream"]["duration"] == 8.0 and records[0]["stream"]["config"] == CONFIG
    ends = [r["end"] for r in records if "end" in r]
    assert [(e["status"], e["audio_seconds"], e["error"]) for e in ends] == [
        (0, 8.0, None),
        (5, 2.5, "second.wav: UNAVAILABLE: connection reset"),
    ]
    # the second input failed: the file is partial and its last line says why
    assert records[-1] == {"partial": {"reason": "second.wav: UNAVAILABLE: connection reset"}}


def test_jsonl_same_bytes_as_the_json_stream_renderer(tmp_path: Path) -> None:
    from bsstream.protocol.jsonlines import dumps_line, partial_line
    from bsstream.render.jsonl import JsonlSink

    out = io.StringIO()
    drive(JsonlSink(out), load_fixture())
    partial = dumps_line(partial_line("second.wav: UNAVAILABLE: connection reset")) + "\n"
    assert export_text(tmp_path, "out.jsonl", JsonlExport) == out.getvalue() + partial


def test_jsonl_line_is_message_to_dict(tmp_path: Path) -> None:
    m = fixture_messages("call.wav")[1]
    sink = JsonlExport(tmp_path / "one.jsonl")
    sink.message(m)
    sink.close()
    line = (tmp_path / "one.jsonl").read_text(encoding="utf-8")
    assert line == json.dumps(message_to_dict(m), ensure_ascii=False, separators=(",", ":")) + "\n"
    assert "ñandú 😀" in line


# -- .json --------------------------------------------------------------------------------


def test_json_single_input_document(tmp_path: Path) -> None:
    doc = json.loads(export_text(tmp_path, "out.json", JsonDocExport, only="call.wav"))
    assert list(doc) == [
        "source",
        "method",
        "methods",
        "emulated",
        "duration",
        "audio_seconds",
        "config",
        "status",
        "error",
        "summary",
        "results",
        "partial",
        "partial_reason",
        "bsstream",
    ]
    assert doc["source"] == "call.wav"
    assert doc["method"] == "StreamAudio" and doc["methods"] == ["StreamAudio"]
    assert doc["emulated"] is False and doc["bsstream"] == __version__
    assert doc["partial"] is False and doc["partial_reason"] is None
    assert doc["duration"] == 8.0 and doc["audio_seconds"] == 8.0
    assert doc["config"] == CONFIG
    messages = fixture_messages("call.wav")
    assert doc["results"] == [message_to_dict(m) for m in messages]
    assert [message_from_dict(d) for d in doc["results"]] == messages
    assert doc["status"] == 0 and doc["error"] is None
    tasks = {t["task"]: t for t in doc["summary"]["tasks"]}
    expected = summarize(messages)
    assert [t["task"] for t in doc["summary"]["tasks"]] == [t.task for t in expected.tasks]
    assert tasks["gender"]["label"] == "female"
    assert doc["summary"]["verdict"]["task"] == "deepfake"


def test_json_several_inputs(tmp_path: Path) -> None:
    text = export_text(tmp_path, "out.json", JsonDocExport)
    doc = json.loads(text)
    assert list(doc) == ["streams", "partial", "partial_reason", "bsstream"]
    assert doc["partial"] is True  # the second input failed: out.partial.json
    assert doc["partial_reason"] == "second.wav: UNAVAILABLE: connection reset"
    first, second = doc["streams"]
    assert (first["source"], second["source"]) == ("call.wav", "second.wav")
    assert second["duration"] == 2.5  # no known duration: the audio sent
    assert second["status"] == int(ExitStatus.CONNECTION)
    assert second["error"] == "second.wav: UNAVAILABLE: connection reset"
    assert second["summary"]["verdict"]["label"] == "spoofed"
    assert "ñandú 😀" in text  # ensure_ascii=False
    assert text.startswith('{\n  "streams"')  # pretty-printed


def test_json_without_end_still_writes(tmp_path: Path) -> None:
    # An interrupted run: close() without end(); the summary is computed, status is null.
    sink = JsonDocExport(tmp_path / "cut.json")
    sink.begin(INFOS["call.wav"])
    messages = fixture_messages("call.wav")[:2]
    for m in messages:
        sink.message(m)
    sink.close()
    assert not (tmp_path / "cut.json").exists()
    doc = json.loads((tmp_path / "cut.partial.json").read_text(encoding="utf-8"))
    assert doc["partial"] is True and doc["partial_reason"] == "call.wav: did not finish"
    assert doc["status"] is None and doc["duration"] == 8.0
    assert len(doc["results"]) == 2
    assert doc["summary"]["tasks"]


# -- .csv ---------------------------------------------------------------------------------


def test_csv_round_trips_through_the_csv_module(tmp_path: Path) -> None:
    text = export_text(tmp_path, "out.csv", CsvExport)
    with (tmp_path / "out.partial.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows[0] == [
        "source",
        "level",
        "start",
        "end",
        "task",
        "final_label",
        "posterior",
        "predictions",
        "embedding",
        "emulated",
        "partial",
    ]
    # every result but the empty ones (no label, prediction or embedding: features)
    expected = [
        (m.source, r)
        for m in fixture_messages()
        for r in m.results
        if r.final_label or r.predictions or r.embedding is not None
    ]
    assert len(rows) - 1 == len(expected)
    for row, (source, result) in zip(rows[1:], expected, strict=True):
        src, level, start, end, task, final, posterior, preds, embedding, emulated, partial = row
        assert embedding == (result.embedding or "")
        assert (emulated, partial) == ("false", "true")  # the second input failed: partial
        decoded = tuple(Prediction(p["label"], p.get("posterior"), p.get("logit")) for p in json.loads(preds))
        rebuilt = Result(
            id=result.id,
            start_time=start,
            end_time=end,
            task=task,
            predictions=decoded,
            final_label=final,
            embedding=result.embedding,
            level=level or None,
        )
        assert src == source
        assert rebuilt == result
        want = next((p.posterior or "" for p in result.predictions if p.label == result.final_label), "")
        assert posterior == want
    assert 'north, ""coastal""' in text  # quoted by the csv module
    assert "1e-04" in text and "ñandú 😀" in text


# -- .srt / .vtt --------------------------------------------------------------------------

_SRT_TIME = r"(\d{2,}):([0-5]\d):([0-5]\d),(\d{3})"
_VTT_TIME = r"(\d{2,}):([0-5]\d):([0-5]\d)\.(\d{3})"


def _seconds(groups: tuple[str, ...]) -> float:
    h, m, s, ms = (int(g) for g in groups)
    return h * 3600 + m * 60 + s + ms / 1000


def parse_srt(text: str) -> list[tuple[float, float, str]]:
    """A strict SubRip parser: numbering from 1, timing lines, non-empty text, blank lines."""
    assert text.endswith("\n\n") or text == ""
    assert "\r" not in text and not text.startswith("\ufeff")
    cues = []
    blocks = text[:-2].split("\n\n") if text else []
    for n, block in enumerate(blocks, start=1):
        lines = block.split("\n")
        assert lines[0] == str(n), f"cue {n}: bad number {lines[0]!r}"
        match = re.fullmatch(_SRT_TIME + " --> " + _SRT_TIME, lines[1])
        assert match, f"cue {n}: bad timing line {lines[1]!r}"
        start, end = _seconds(match.groups()[:4]), _seconds(match.groups()[4:])
        text_lines = lines[2:]
        assert text_lines and all(line.strip() for line in text_lines), f"cue {n}: empty text"
        assert all("-->" not in line for line in text_lines)
        assert end > start
        cues.append((start, end, "\n".join(text_lines)))
    return cues


def parse_vtt(text: str) -> list[tuple[float, float, str]]:
    """A strict WebVTT parser for what we write: header, timing lines, escaped text."""
    assert text.startswith("WEBVTT\n\n")
    assert "\r" not in text
    body = text[len("WEBVTT\n\n") :]
    assert body.endswith("\n\n") or body == ""
    cues = []
    for block in body[:-2].split("\n\n") if body else []:
        lines = block.split("\n")
        if lines[0] == "NOTE":  # a comment block: no "-->" in it, not a cue
            assert all("-->" not in line and line.strip() for line in lines)
            continue
        match = re.fullmatch(_VTT_TIME + " --> " + _VTT_TIME, lines[0])
        assert match, f"bad timing line {lines[0]!r}"
        start, end = _seconds(match.groups()[:4]), _seconds(match.groups()[4:])
        text_lines = lines[1:]
        assert text_lines and all(line.strip() for line in text_lines)
        for line in text_lines:
            assert "-->" not in line and "<" not in line and ">" not in line
            assert not re.search(r"&(?!amp;|lt;|gt;)", line), f"unescaped & in {line!r}"
        assert end > start
        cues.append((start, end, html.unescape("\n".join(text_lines))))
    return cues


@pytest.mark.parametrize(("ext", "parse"), [("srt", parse_srt), ("vtt", parse_vtt)])
def test_subtitles_parse_back(tmp_path: Path, ext: str, parse: Callable[[str], Any]) -> None:
    # default: the utterance level, the default tasks (tone is not one of them)
    cues = parse(export_text(tmp_path, f"out.{ext}", WRITERS[ext], only="call.wav"))
    assert [(c[0], c[1], c[2]) for c in cues] == [(0.0, 3.5, "emotion neutral · gender female")]


@pytest.mark.parametrize(("ext", "parse"), [("srt", parse_srt), ("vtt", parse_vtt)])
def test_subtitles_segment_level_all_tasks(tmp_path: Path, ext: str, parse: Callable[[str], Any]) -> None:
    options = SubtitleOptions("segment", ("all",))
    cues = parse(export_text(tmp_path, f"out.{ext}", lambda p: WRITERS[ext](p, options), only="call.wav"))
    texts = [(c[0], c[1], c[2]) for c in cues]
    assert texts == [
        (0.0, 2.0, "gender female 91% · emotion neutral 70%\nage 31–45 100% · deepfake bonafide 97%"),
        (2.0, 4.0, 'gender female 88% · emotion ñandú 😀 55%\naccent north, "coastal" 62%'),
        (4.0, 6.0, "deepfake spoofed 81% · gender female 93%"),
        (6.0, 6.5, "emotion sad 40%"),  # zero length: the minimum duration
    ]  # the result with times "abc"/"" is skipped; features (an empty label) is left out


def test_subtitles_escape_labels(tmp_path: Path) -> None:
    options = SubtitleOptions("utterance", ("tone",))
    srt = parse_srt(export_text(tmp_path, "out.srt", lambda p: SrtExport(p, options), only="call.wav"))
    vtt = parse_vtt(export_text(tmp_path, "out.vtt", lambda p: VttExport(p, options), only="call.wav"))
    # VTT: entities, read back as the label; SRT: lookalikes ffmpeg/libass show literally
    assert vtt == [(0.0, 3.5, "tone <script>alert('x')</script> & -->\nloud 80%")]
    assert srt == [(0.0, 3.5, "tone \u2039script\u203aalert('x')\u2039/script\u203a & --\u203a\nloud 80%")]


def test_subtitles_without_the_level_use_what_there_is(tmp_path: Path) -> None:
    sink = SrtExport(tmp_path / "a.srt")  # default: utterance; these results have no level
    untagged = [r for m in fixture_messages("call.wav") for r in m.results if r.level is None]
    sink.message(ResultMessage(1, 1, 0, tuple(untagged), source="call.wav"))
    sink.close()
    cues = parse_srt((tmp_path / "a.srt").read_text(encoding="utf-8"))
    # none of the default tasks is there: every task with a label
    assert cues == [(6.0, 8.0, "speaking rate fast 66%\nnote line one line two 50%")]


def test_subtitles_long_times() -> None:
    from bsstream.export.subtitles import srt_timestamp, vtt_timestamp

    assert srt_timestamp(0) == "00:00:00,000"
    assert srt_timestamp(3599.9996) == "01:00:00,000"
    assert vtt_timestamp(7325.25) == "02:02:05.250"


# -- .html (static checks; the browser tests are in test_export_html.py) ------------------


def test_html_escapes_everything(tmp_path: Path) -> None:
    text = export_text(tmp_path, "out.html", HtmlExport)
    assert "<script>alert" not in text
    assert text.count("<script") == 2 and text.count("</script>") == 2
    assert "http://" not in text and "https://" not in text  # nothing to fetch
    assert "Content-Security-Policy" in text
    assert "ñandú 😀" in text


def test_script_json_cannot_close_the_block() -> None:
    payload = {"x": "</script><script>alert(1)</script>", "y": "a\u2028b&<!--"}
    text = script_json(payload)
    assert "<" not in text and ">" not in text and "\u2028" not in text
    assert json.loads(text) == payload


def test_label_colours_are_stable_and_distinct() -> None:
    assert label_color("neutral") == label_color("neutral")
    assert re.fullmatch(r"#[0-9a-f]{6}", label_color("ñandú 😀"))
    colours = {label_color(x) for x in ["male", "female", "happy", "sad", "angry", "neutral", "fast", "slow"]}
    assert len(colours) == 8


# -- open_exports -------------------------------------------------------------------------


def test_open_exports_by_extension(tmp_path: Path) -> None:
    paths = [str(tmp_path / f"o.{ext}") for ext in ("jsonl", "json", "csv", "srt", "vtt", "html", "HTML")]
    sinks = open_exports(paths)
    kinds = [type(s).__name__ for s in sinks]
    assert kinds == [
        "JsonlExport",
        "JsonDocExport",
        "CsvExport",
        "SrtExport",
        "VttExport",
        "HtmlExport",
        "HtmlExport",
    ]
    for sink in sinks:
        sink.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(Path(p).name for p in paths)


@pytest.mark.parametrize("name", ["out.txt", "out", "out.json.gz"])
def test_open_exports_unknown_extension(tmp_path: Path, name: str) -> None:
    good = str(tmp_path / "first.jsonl")
    with pytest.raises(UsageError) as info:
        open_exports([good, str(tmp_path / name)])
    line = info.value.line()
    assert name in line
    for ext in SUPPORTED:
        assert ext in line
    assert info.value.exit_status == ExitStatus.USAGE
    assert list(tmp_path.iterdir()) == []  # nothing created, not even a temp file


def test_open_exports_bad_paths(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        open_exports([str(tmp_path / "missing" / "out.csv")])
    (tmp_path / "d.json").mkdir()
    with pytest.raises(UsageError, match="directory"):
        open_exports([str(tmp_path / "d.json")])
    with pytest.raises(UsageError, match="more than once"):
        open_exports([str(tmp_path / "x.csv"), str(tmp_path / "x.csv")])


def test_summary_of_fixture_sanity() -> None:
    # guards the fixture itself: what the goldens are meant to cover
    messages = fixture_messages()
    results = [r for m in messages for r in m.results]
    tasks = {r.task for r in results}
    assert {"deepfake", "accent", "tone", "features", "note"} <= tasks
    assert {r.level for r in results} == {"segment", "utterance", None}
    posteriors = {p.posterior for r in results for p in r.predictions}
    assert {"1e-04", "", "nan", None} <= posteriors
    assert any(r.start is None for r in results)
