"""Exports people can trust (issue 13):

- an interrupted or failed run never replaces a complete export: what it received goes to
  ``NAME.partial.EXT``, which says it is partial in its own way, and stderr says so; SIGTERM
  exits 143, Ctrl-C 130 (real processes, real signals);
- one owner of the JSON-lines format: the stream and end lines, their decoding, replay
  restoring method, duration, config and ``emulated`` from them, old files still read;
- provenance in every format: emulated marked, the source as given (no absolute path the user
  did not give);
- CSV safe for spreadsheets: OWASP's neutralisation, numbers kept numeric (Python's csv module,
  and LibreOffice headless when it is installed), no empty ``features`` rows.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import wave
from pathlib import Path

import pytest

from bsstream import __version__
from bsstream.export.csvfile import CsvExport, safe_cell
from bsstream.export.partial import partial_path
from bsstream.export.subtitles import EMULATED_NOTICE
from bsstream.protocol.jsonlines import (
    EndLine,
    EventLine,
    MalformedLine,
    MarkerLine,
    PartialLine,
    StatsLine,
    StreamLine,
    decode_line,
    dumps_line,
    end_line,
    marker_line,
    message_line,
    partial_line,
    stats_line,
    stream_line,
)
from bsstream.protocol.results import Prediction, Result, ResultMessage
from bsstream.protocol.stats import Stats
from bsstream.protocol.stream import StreamInfo, StreamOutcome
from tests.clirun import bsstream, child_environ
from tests.conftest import write_wav

FORMATS = ("jsonl", "json", "csv", "srt", "vtt", "html")
SPEECH = "01_jfk_16k_mono_s16.wav"


def speech_pcm(testdata: Path, seconds: float | None = None) -> bytes:
    with wave.open(str(testdata / SPEECH)) as w:
        frames = w.getnframes() if seconds is None else int(w.getframerate() * seconds)
        return w.readframes(frames)


def output_args(base: str) -> list[str]:
    return [arg for ext in FORMATS for arg in ("--output", f"{base}.{ext}")]


# -- how each format says it is partial (or complete) -----------------------------------------


def srt_cues(text: str) -> list[str]:
    return [block.split("\n", 2)[2] for block in text.strip("\n").split("\n\n") if block]


def vtt_note(text: str) -> list[str]:
    block = text.split("\n\n")[1]
    lines = block.split("\n")
    assert lines[0] == "NOTE", text[:200]
    return lines[1:]


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def assert_says_partial(ext: str, text: str, reason: str, status: int) -> None:
    """The file tells a reader it is partial and why, the way its format allows."""
    if ext == "jsonl":
        records = [json.loads(line) for line in text.splitlines()]
        assert records[-1] == {"partial": {"reason": reason}}
        (end,) = [r["end"] for r in records if "end" in r]
        assert end["status"] == status and end["emulated"] is True
    elif ext == "json":
        doc = json.loads(text)
        assert doc["partial"] is True and doc["partial_reason"] == reason
        assert doc["status"] == status
        assert 0 < doc["audio_seconds"] < doc["duration"]  # says how much was analysed
    elif ext == "csv":
        rows = csv_rows(text)
        assert rows and all(r["partial"] == "true" and r["emulated"] == "true" for r in rows)
    elif ext == "srt":
        assert srt_cues(text)[0] == f"{EMULATED_NOTICE}\n[partial: {reason}]"
    elif ext == "vtt":
        assert f"PARTIAL: {reason}" in vtt_note(text)
    else:
        assert '<div class="provenance partial" role="alert"><b>Partial report.</b> ' + reason in text


def assert_says_complete(ext: str, text: str) -> None:
    if ext == "jsonl":
        records = [json.loads(line) for line in text.splitlines()]
        assert "partial" not in records[-1] and records[-1]["end"]["status"] == 0
    elif ext == "json":
        doc = json.loads(text)
        assert doc["partial"] is False and doc["partial_reason"] is None and doc["status"] == 0
    elif ext == "csv":
        assert all(r["partial"] == "false" for r in csv_rows(text))
    elif ext == "srt":
        assert srt_cues(text)[0] == EMULATED_NOTICE  # emulated, but nothing partial
    elif ext == "vtt":
        assert not any(line.startswith("PARTIAL") for line in vtt_note(text))
    else:
        assert "provenance partial" not in text


# -- 1. never replace a complete export with a partial one ----------------------------------------


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_leaves_the_complete_export_and_writes_a_partial_one(
    tmp_path: Path, testdata: Path, sig: signal.Signals
) -> None:
    write_wav(tmp_path / "short.wav", speech_pcm(testdata, 3.0))
    shutil.copyfile(testdata / SPEECH, tmp_path / "speech.wav")
    # an earlier, complete run writes every requested file
    done = bsstream("analyze", "short.wav", "--local", *output_args("r"), cwd=tmp_path)
    assert done.code == 0, done.err
    before = {}
    for ext in FORMATS:
        path = tmp_path / f"r.{ext}"
        assert_says_complete(ext, path.read_text(encoding="utf-8"))
        before[ext] = (path.read_bytes(), path.stat().st_mtime_ns)

    # a rerun with the same --output names, stopped by a signal once results came
    outputs = output_args("r")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bsstream",
            "analyze",
            "speech.wav",
            "--local",
            "--realtime",
            "--json",
            *outputs,
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env=child_environ(),
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if any(r["final_label"] for r in json.loads(line).get("result", [])):
                break
        proc.send_signal(sig)
        _, err_bytes = proc.communicate(timeout=30)
    finally:
        proc.kill()
    err = err_bytes.decode()
    status = 143 if sig == signal.SIGTERM else 130
    reason = "terminated (SIGTERM)" if sig == signal.SIGTERM else "interrupted (Ctrl-C)"
    assert proc.returncode == status, err
    assert "Traceback" not in err
    for ext in FORMATS:
        path = tmp_path / f"r.{ext}"
        assert (path.read_bytes(), path.stat().st_mtime_ns) == before[ext], f"r.{ext} was replaced"
        text = (tmp_path / f"r.partial.{ext}").read_text(encoding="utf-8")
        assert_says_partial(ext, text, reason, status)
        assert str(tmp_path) not in text  # the source as given: relative
    partials = ", ".join(f"r.partial.{ext}" for ext in FORMATS)
    requested = ", ".join(f"r.{ext}" for ext in FORMATS)
    assert err.splitlines()[-1] == (
        f"interrupted: results received so far were written to {partials} "
        f"({requested} are written only by a complete run)"
    )
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no temporaries


def test_failed_input_gives_partial_exports_and_says_so(tmp_path: Path, testdata: Path) -> None:
    write_wav(tmp_path / "good.wav", speech_pcm(testdata, 2.0))
    r = bsstream("analyze", "good.wav", "missing.wav", "--local", *output_args("r"), cwd=tmp_path)
    assert r.code == 4, r.err
    assert not any((tmp_path / f"r.{ext}").exists() for ext in FORMATS)
    lines = r.err.splitlines()
    # subtitles are one file per input: good.wav's are complete, missing.wav never began
    whole = [ext for ext in FORMATS if ext not in ("srt", "vtt")]
    partials = ", ".join(f"r.partial.{ext}" for ext in whole)
    assert f"partial: results received so far were written to {partials} (" in "\n".join(lines)
    assert (tmp_path / "r.good.srt").exists() and (tmp_path / "r.good.vtt").exists()
    assert not list(tmp_path.glob("r.missing*")) and not list(tmp_path.glob("r*.partial.s*"))
    doc = json.loads((tmp_path / "r.partial.json").read_text(encoding="utf-8"))
    assert doc["partial"] is True and "missing.wav" in doc["partial_reason"]
    assert doc["source"] == "good.wav"  # what was received is kept
    assert doc["status"] == 0 and doc["results"]


def test_nothing_received_writes_nothing(tmp_path: Path) -> None:
    r = bsstream("analyze", "missing.wav", "--local", *output_args("r"), cwd=tmp_path)
    assert r.code == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    assert "partial" not in r.err


def test_partial_path_names() -> None:
    assert partial_path(Path("out/r.csv")) == Path("out/r.partial.csv")
    assert partial_path("r.tar.json") == Path("r.tar.partial.json")
    assert partial_path("report") == Path("report.partial")


# -- 2. one owner of the JSON-lines format -----------------------------------------------------

INFO = StreamInfo("calls/a.wav", "scan", {"encoding": "LINEAR_PCM"}, duration=12.25, emulated=True)
OUTCOME = StreamOutcome(status=143, audio_seconds=4.0004, results=7, error=None)


def test_every_line_type_round_trips() -> None:
    line = decode_line(dumps_line(stream_line(INFO)))
    assert isinstance(line, StreamLine)
    assert line.info == StreamInfo(
        "calls/a.wav", "scan", {"encoding": "LINEAR_PCM"}, duration=12.25, emulated=True, version=__version__
    )
    assert json.loads(dumps_line(stream_line(INFO)))["stream"]["methods"] == [
        "StreamAudio",
        "DeepfakeDetection",
    ]
    end = decode_line(dumps_line(end_line(INFO, OUTCOME)))
    assert end == EndLine("calls/a.wav", "scan", 143, 4.0, 7, None, True)
    stats = decode_line(dumps_line(stats_line("a.wav", Stats.from_json({"results": 3}), "StreamAudio")))
    assert isinstance(stats, StatsLine) and (stats.stats, stats.method) == ({"results": 3}, "StreamAudio")
    assert decode_line(dumps_line(partial_line("interrupted (Ctrl-C)"))) == PartialLine(
        "interrupted (Ctrl-C)"
    )
    assert isinstance(decode_line(dumps_line(marker_line("a.wav", 0, 3))), MarkerLine)
    assert decode_line('{"event":"reconnect","source":"a.wav"}') == EventLine(
        {"event": "reconnect", "source": "a.wav"}
    )
    message = ResultMessage(
        1, 2, 0, (Result("1", "0.00", "2.00", "gender", (Prediction("male", "0.9"),), "male"),)
    )
    assert decode_line(dumps_line(message_line(message))) == message
    # none of the new lines can be taken for a result message
    for data in (stream_line(INFO), end_line(INFO, OUTCOME), partial_line("x")):
        assert "result" not in data and "message_id" not in data


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('{"stream": 3, "source": "a"}', "stream must be an object"),
        ('{"stream": {"duration": "long"}, "source": "a"}', "duration must be a number or null"),
        ('{"stream": {"emulated": 1}, "source": "a"}', "emulated must be true or false"),
        ('{"end": {"status": "0"}, "source": "a"}', "status must be an integer"),
        ('{"end": {"status": true}, "source": "a"}', "status must be an integer"),
        ('{"end": {}, "source": 5}', "source must be a string"),
    ],
)
def test_bad_stream_and_end_lines_are_named(line: str, reason: str) -> None:
    with pytest.raises(MalformedLine, match=re.escape(reason)):
        decode_line(line)


def test_later_keys_in_stream_and_end_lines_are_ignored() -> None:
    line = decode_line('{"stream":{"method":"StreamAudio","future":[1]},"source":"a.wav","x":1}')
    assert isinstance(line, StreamLine) and line.info.method == "StreamAudio" and line.info.config == {}


def test_replay_of_a_scan_restores_method_duration_config_and_emulated(
    tmp_path: Path, testdata: Path
) -> None:
    write_wav(tmp_path / "call.wav", speech_pcm(testdata, 3.0))
    live = bsstream("scan", "call.wav", "--local", "--json", cwd=tmp_path)
    assert live.code == 0, live.err
    (tmp_path / "scan.jsonl").write_text(live.out, encoding="utf-8")
    first, last = json.loads(live.out.splitlines()[0]), json.loads(live.out.splitlines()[-1])
    assert first["stream"]["method"] == "scan" and first["stream"]["duration"] == 3.0
    assert last["end"]["status"] == 0 and last["end"]["audio_seconds"] == 3.0

    again = bsstream(
        "replay", "scan.jsonl", "--json", "--output", "back.json", "--output", "back.html", cwd=tmp_path
    )
    assert again.code == 0, again.err
    assert again.out == live.out  # byte for byte, stream and end lines included
    doc = json.loads((tmp_path / "back.json").read_text(encoding="utf-8"))
    assert doc["method"] == "scan" and doc["methods"] == ["StreamAudio", "DeepfakeDetection"]
    assert doc["duration"] == 3.0 and doc["audio_seconds"] == 3.0
    assert doc["config"] == first["stream"]["config"] and doc["config"]["encoding"] == "LINEAR_PCM"
    assert doc["emulated"] is True and doc["partial"] is False
    page = (tmp_path / "back.html").read_text(encoding="utf-8")
    assert "<span>Method <b>scan</b></span>" in page and "Duration <b>3.0 s</b>" in page
    assert "provenance emulated" in page


def test_replay_still_reads_a_file_without_stream_lines(tmp_path: Path, testdata: Path) -> None:
    write_wav(tmp_path / "call.wav", speech_pcm(testdata, 2.0))
    live = bsstream("analyze", "call.wav", "--local", "--json", cwd=tmp_path)
    old = "".join(x + "\n" for x in live.out.splitlines() if not x.startswith(('{"stream"', '{"end"')))
    (tmp_path / "old.jsonl").write_text(old, encoding="utf-8")
    again = bsstream(
        "replay", "old.jsonl", "--json", "--output", "o.json", "--output", "o.jsonl", cwd=tmp_path
    )
    assert again.code == 0, again.err
    assert again.out == old  # written back as it was: no invented stream/end lines
    assert (tmp_path / "o.jsonl").read_text(encoding="utf-8") == old
    doc = json.loads((tmp_path / "o.json").read_text(encoding="utf-8"))
    assert doc["method"] == "StreamAudio" and doc["config"] == {}
    assert doc["duration"] is not None and 1.0 < doc["duration"] <= 2.0  # the last result's end


def test_replay_of_a_partial_file_gives_partial_exports(tmp_path: Path, testdata: Path) -> None:
    write_wav(tmp_path / "call.wav", speech_pcm(testdata, 2.0))
    live = bsstream("analyze", "call.wav", "--local", "--json", cwd=tmp_path)
    lines = live.out.splitlines()
    end = json.loads(lines[-1])
    end["end"]["status"] = 130
    cut = [*lines[:-1], dumps_line(end), dumps_line(partial_line("interrupted (Ctrl-C)"))]
    (tmp_path / "cut.jsonl").write_text("\n".join(cut) + "\n", encoding="utf-8")
    again = bsstream("replay", "cut.jsonl", "--json", "--output", "x.csv", cwd=tmp_path)
    assert again.code == 0, again.err
    assert again.out == "\n".join(cut) + "\n"
    assert not (tmp_path / "x.csv").exists()
    assert all(
        r["partial"] == "true" for r in csv_rows((tmp_path / "x.partial.csv").read_text(encoding="utf-8"))
    )
    assert "partial: results received so far were written to x.partial.csv" in again.err


# -- 3. provenance in every format --------------------------------------------------------------


def test_every_format_says_emulated_and_keeps_the_source_as_given(tmp_path: Path, testdata: Path) -> None:
    (tmp_path / "calls").mkdir()
    write_wav(tmp_path / "calls" / "a.wav", speech_pcm(testdata, 3.0))
    (tmp_path / "out").mkdir()
    r = bsstream("analyze", "calls/a.wav", "--local", *output_args("out/r"), cwd=tmp_path)
    assert r.code == 0, r.err
    text = {ext: (tmp_path / "out" / f"r.{ext}").read_text(encoding="utf-8") for ext in FORMATS}
    for ext in FORMATS:
        assert str(tmp_path) not in text[ext], f"an absolute path in r.{ext}"
        if ext != "srt":  # SRT names a source only when it holds several
            assert "calls/a.wav" in text[ext], f"the source is not in r.{ext}"
    stream = json.loads(text["jsonl"].splitlines()[0])
    assert stream == {
        "stream": {
            "method": "StreamAudio",
            "methods": ["StreamAudio"],
            "duration": 3.0,
            "config": stream["stream"]["config"],
            "emulated": True,
            "bsstream": __version__,
        },
        "source": "calls/a.wav",
    }
    assert json.loads(text["jsonl"].splitlines()[-1])["end"]["emulated"] is True
    doc = json.loads(text["json"])
    assert doc["emulated"] is True and doc["source"] == "calls/a.wav" and doc["bsstream"] == __version__
    rows = csv_rows(text["csv"])
    assert rows and all(row["emulated"] == "true" and row["source"] == "calls/a.wav" for row in rows)
    assert srt_cues(text["srt"])[0] == EMULATED_NOTICE
    note = vtt_note(text["vtt"])
    assert note[:3] == [f"bsstream {__version__}", "source: calls/a.wav", "method: StreamAudio"]
    assert "emulated: results from the local emulator, not Behavioral Signals models" in note
    assert "<title>bsstream report — calls/a.wav</title>" in text["html"]
    assert '<div class="provenance emulated" role="note"><b>Emulated results.</b>' in text["html"]


def test_an_absolute_source_stays_as_given(tmp_path: Path, testdata: Path) -> None:
    wav = write_wav(tmp_path / "a.wav", speech_pcm(testdata, 2.0))
    r = bsstream("analyze", str(wav), "--local", "--output", str(tmp_path / "r.json"))
    assert r.code == 0, r.err
    assert json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))["source"] == str(wav)


# -- 4. CSV safe for spreadsheets --------------------------------------------------------------

HOSTILE = [
    ('=HYPERLINK("http://x","click")', '\'=HYPERLINK("http://x","click")'),
    ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
    ("-2+3", "'-2+3"),
    ("@SUM(1+1)", "'@SUM(1+1)"),
    ("\t=1+1", "'\t=1+1"),
    ("\r=1+1", "'\r=1+1"),
    ("-", "'-"),
    ("-2.31", "-2.31"),  # a negative number stays a number
    ("0.91", "0.91"),
    ("1e-04", "1e-04"),
    ("-.5", "-.5"),
    ("male", "male"),
    ("a=b", "a=b"),  # only the first character matters
    ("", ""),
]


@pytest.mark.parametrize(("cell", "written"), HOSTILE)
def test_safe_cell(cell: str, written: str) -> None:
    assert safe_cell(cell) == written


def hostile_csv(tmp_path: Path) -> Path:
    sink = CsvExport(tmp_path / "h.csv")
    info = StreamInfo("=cmd.wav", "StreamAudio")
    sink.begin(info)
    preds = (Prediction('=HYPERLINK("http://x","click")', "0.91", "-2.31"), Prediction("@SUM(1+1)", "0.09"))
    results = (
        Result("1", "0.00", "2.00", "=1+1", preds, '=HYPERLINK("http://x","click")', level="segment"),
        Result(
            "1", "2.00", "-1.5", "emotion", (Prediction("+cmd|' /C calc'!A0", "-0.25"),), "+cmd|' /C calc'!A0"
        ),
        Result("1", "0.00", "2.00", "features", (), ""),  # empty, no embeddings asked: no row
    )
    sink.message(ResultMessage(1, 2, 0, results, source="=cmd.wav"))
    sink.end(info, StreamOutcome(status=0))
    sink.close()
    return tmp_path / "h.csv"


def test_csv_neutralises_formulas_and_keeps_numbers(tmp_path: Path) -> None:
    with hostile_csv(tmp_path).open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2  # no empty features row
    first, second = rows
    assert first["source"] == "'=cmd.wav" and first["task"] == "'=1+1"
    assert first["final_label"] == '\'=HYPERLINK("http://x","click")'
    assert first["posterior"] == "0.91" and float(first["posterior"]) == 0.91
    assert json.loads(first["predictions"])[0]["logit"] == "-2.31"  # a JSON cell starts with [
    assert second["final_label"] == "'+cmd|' /C calc'!A0"
    assert second["end"] == "-1.5" and second["posterior"] == "-0.25"  # negative numbers stay numbers
    assert first["embedding"] == "" and first["emulated"] == "false" and first["partial"] == "false"


def test_csv_embeddings_column_only_when_asked(tmp_path: Path, testdata: Path) -> None:
    write_wav(tmp_path / "a.wav", speech_pcm(testdata, 3.0))
    plain = bsstream("analyze", "a.wav", "--local", "--output", "p.csv", cwd=tmp_path)
    withe = bsstream("analyze", "a.wav", "--local", "--embeddings", "--output", "e.csv", cwd=tmp_path)
    assert plain.code == 0 and withe.code == 0, plain.err + withe.err
    rows = csv_rows((tmp_path / "p.csv").read_text(encoding="utf-8"))
    assert rows and all(r["final_label"] or r["embedding"] for r in rows)  # no empty rows
    assert not [r for r in rows if r["task"] == "features"]
    features = [
        r for r in csv_rows((tmp_path / "e.csv").read_text(encoding="utf-8")) if r["task"] == "features"
    ]
    assert features and all(isinstance(json.loads(r["embedding"]), list) for r in features)


def _soffice() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def test_csv_through_libreoffice_has_no_formula(tmp_path: Path) -> None:
    soffice = _soffice()
    if soffice is None:
        pytest.skip("LibreOffice is not installed (Debian: apt-get install libreoffice-calc)")
    source = hostile_csv(tmp_path)
    profile = tmp_path / "lo-profile"
    proc = subprocess.run(
        [
            soffice,
            f"-env:UserInstallation={profile.as_uri()}",
            "--headless",
            "--norestore",
            "--convert-to",
            "fods",
            "--outdir",
            str(tmp_path),
            str(source),
        ],
        capture_output=True,
        timeout=120,
        env={**os.environ, "HOME": str(tmp_path)},
    )
    sheet = tmp_path / "h.fods"
    assert sheet.exists(), proc.stderr.decode(errors="replace")
    xml = sheet.read_text(encoding="utf-8")
    cells: list[tuple[str, str]] = []
    for attrs, body in re.findall(r"<table:table-cell([^>]*)>(.*?)</table:table-cell>", xml, re.S):
        text = re.sub(r"<[^>]+>", "", body).strip().replace("&apos;", "'").replace("&quot;", '"')
        cells.append((attrs, text))
    assert "table:formula" not in xml  # nothing was turned into a formula
    kinds = {text: attrs for attrs, text in cells}
    assert 'office:value-type="float"' in kinds["0.91"] and 'office:value-type="float"' in kinds["-0.25"]
    assert 'office:value-type="float"' in kinds["-1.5"]
    for hostile in ("'=1+1", "'=cmd.wav", "'+cmd|' /C calc'!A0"):
        assert 'office:value-type="string"' in kinds[hostile], hostile
