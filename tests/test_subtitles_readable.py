"""Subtitles a person can read over video (issue 13 item 4, issue 14's channel tag).

Real emulator output of the shipped recordings, read back with real subtitle parsers (pysrt,
webvtt-py) and muxed into a Matroska file with the bundled ffmpeg; hostile labels from a strict
fake server; the pure cue builder's limits as properties.
"""

from __future__ import annotations

import html
import io
import itertools
import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import grpc
import imageio_ffmpeg
import pysrt
import pytest
import webvtt
from hypothesis import given, settings
from hypothesis import strategies as st

from bsstream._gen import api_pb2
from bsstream.app import RunConfig, Streams, run_streams
from bsstream.export.atomic import StreamRecord
from bsstream.export.subtitles import (
    MAX_CUE_SECONDS,
    MAX_LINE,
    MAX_LINES,
    SrtExport,
    SubtitleOptions,
    build_cues,
    cue_lines,
    per_input_paths,
)
from bsstream.protocol.results import Prediction, Result, ResultMessage, message_from_dict
from bsstream.protocol.stream import StreamInfo
from bsstream.settings import Credentials, parse_endpoint
from bsstream.status import ExitStatus
from tests.clirun import bsstream
from tests.fake_server import CID, KEY, FakeServer, scripted

VOX = "10_voxconverse_aepyx_8k_mono_s16_169s.wav"  # 169 s, utterances up to 49 s
TWO = "g_two_speakers_8k_stereo_mulaw.wav"  # ch0 p286, ch1 Orca TTS, both talking at once
JFK = "01_jfk_16k_mono_s16.wav"
ORCA = "12_tts_orca_en_female_22k_mono_s16.wav"
HOSTILE = ["<b>", "</script>x", "&amp;", "a --> b", "{\\an8}\\N"]
_VTT_TIME = re.compile(r"(?:(\d+):)?(\d\d):(\d\d)\.(\d\d\d)")


# -- reading the files back with real parsers --------------------------------------------------

Cue = tuple[float, float, list[str]]


def srt_cues(path: Path) -> list[Cue]:
    subs = pysrt.open(str(path), encoding="utf-8")
    return [(s.start.ordinal / 1000, s.end.ordinal / 1000, s.text.split("\n")) for s in subs]


def _vtt_seconds(text: str) -> float:
    match = _VTT_TIME.fullmatch(text)
    assert match, text
    h, m, s, ms = (int(g or 0) for g in match.groups())
    return h * 3600 + m * 60 + s + ms / 1000


def vtt_cues(path: Path) -> list[Cue]:
    captions = webvtt.read(str(path)).captions
    return [(_vtt_seconds(c.start), _vtt_seconds(c.end), c.lines) for c in captions]


def assert_readable(cues: list[Cue]) -> None:
    """At most 2 lines of at most 42 characters, a bounded duration, no two cues overlapping."""
    assert cues
    for start, end, lines in cues:
        assert 1 <= len(lines) <= MAX_LINES, lines
        assert all(0 < len(line) <= MAX_LINE for line in lines), lines
        assert 0 < end - start <= MAX_CUE_SECONDS + 0.002, (start, end)
    spans = sorted((s, e) for s, e, _ in cues)
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert start >= end - 0.0005, f"cues overlap: one ends at {end}, the next starts at {start}"


@pytest.fixture(scope="module")
def vox_run(testdata: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("vox")
    r = bsstream(
        "analyze", "--local", "--json", str(testdata / VOX),
        "--output", str(out / "u.srt"), "--output", str(out / "u.vtt"),
    )  # fmt: skip
    assert r.code == 0, r.err
    (out / "run.jsonl").write_text(r.out, encoding="utf-8")
    return out


def replay_records(jsonl: Path) -> list[StreamRecord]:
    info = StreamInfo("vox.wav", "StreamAudio", {}, emulated=True)
    record = StreamRecord(info)
    for line in jsonl.read_text(encoding="utf-8").splitlines():
        data = json.loads(line)
        if "result" in data:
            record.messages.append(message_from_dict(data))
    return [record]


def test_long_recording_utterance_level_is_readable(vox_run: Path) -> None:
    srt, vtt = srt_cues(vox_run / "u.srt"), vtt_cues(vox_run / "u.vtt")
    assert_readable(srt)
    assert_readable(vtt)
    assert srt[0][2] == ["[emulator results, not Behavioral Signals]"]  # the SRT's provenance cue
    assert [c[2] for c in vtt[:2]] != []
    # the 49 s utterance is cut into cues of at most 7 s; the text is the utterance's labels
    assert len(vtt) > 20
    assert all(line.split()[0] in {"emotion", "gender", "age", "positivity"} for c in vtt for line in c[2])
    assert any("age " in line and "–" in line and line.endswith("%") for c in vtt for line in c[2])
    note = (vox_run / "u.vtt").read_text(encoding="utf-8").split("\n\n")[1]
    assert "subtitles: utterance; tasks deepfake,emotion,gender,age,positivity (default)" in note


def test_long_recording_segment_level_and_all_tasks(vox_run: Path, tmp_path: Path) -> None:
    records = replay_records(vox_run / "run.jsonl")
    for options in (SubtitleOptions("segment"), SubtitleOptions("utterance", ("all",))):
        cues = build_cues(records, options)
        assert_readable([(c.start, c.end, c.text.split("\n")) for c in cues])
    # every task: more than two lines per window, so consecutive pages of the same window
    texts = [c.text for c in build_cues(records, SubtitleOptions("utterance", ("all",)))]
    assert any(t.startswith("hesitation") or "\nhesitation" in t for t in texts)
    assert not any("features" in t for t in texts)


def test_scan_shows_the_verdict_first_and_pages(testdata: Path, tmp_path: Path) -> None:
    r = bsstream("scan", "--local", str(testdata / ORCA), "--output", str(tmp_path / "s.srt"))
    assert r.code == 0, r.err
    cues = srt_cues(tmp_path / "s.srt")
    assert_readable(cues)
    body = [c for c in cues if not c[2][0].startswith("[emulator")]
    assert body and body[0][2][0].startswith("deepfake ")


def test_tasks_option_picks_and_orders(testdata: Path, tmp_path: Path) -> None:
    out = tmp_path / "t.vtt"
    r = bsstream(
        "analyze", "--local", str(testdata / JFK), "--output", str(out),
        "--subtitle-level", "segment", "--subtitle-tasks", "positivity,emotion,no_such_task",
    )  # fmt: skip
    assert r.code == 0, r.err
    cues = vtt_cues(out)
    assert_readable(cues)
    texts = [" · ".join(c[2]) for c in cues]
    assert all(re.fullmatch(r"positivity \w+ \d+% · emotion \w+ \d+%", t) for t in texts), texts
    assert "tasks positivity,emotion,no_such_task" in out.read_text(encoding="utf-8")


@pytest.mark.parametrize("value", ["", " , ", "emotion,,age"])
def test_empty_task_names_are_a_usage_error(testdata: Path, tmp_path: Path, value: str) -> None:
    r = bsstream(
        "analyze", "--local", str(testdata / JFK), "--output", str(tmp_path / "x.srt"),
        "--subtitle-tasks", value,
    )  # fmt: skip
    assert r.code == ExitStatus.USAGE
    assert "--subtitle-tasks" in r.err and "Traceback" not in r.err
    assert not (tmp_path / "x.srt").exists()


def test_replay_takes_the_subtitle_options_of_a_run(vox_run: Path, tmp_path: Path) -> None:
    saved = str(vox_run / "run.jsonl")
    # no options: the run's defaults, so the run's own file again
    again = bsstream("replay", saved, "--output", str(tmp_path / "d.vtt"))
    assert again.code == 0, again.err
    assert (tmp_path / "d.vtt").read_text(encoding="utf-8") == (vox_run / "u.vtt").read_text(encoding="utf-8")
    out = tmp_path / "s.vtt"
    chosen = bsstream(
        "replay", saved, "--output", str(out), "--output", str(tmp_path / "s.srt"),
        "--subtitle-level", "segment", "--subtitle-tasks", "positivity,emotion",
    )  # fmt: skip
    assert chosen.code == 0, chosen.err
    assert "subtitles: segment; tasks positivity,emotion\n" in out.read_text(encoding="utf-8")
    for cues in (vtt_cues(out), srt_cues(tmp_path / "s.srt")[1:]):  # the SRT's first cue: emulated
        assert_readable(cues)
        texts = [" · ".join(c[2]) for c in cues]
        assert all(re.fullmatch(r"positivity \w+ \d+% · emotion \w+ \d+%", t) for t in texts), texts
    # segments are shorter than utterances: more cues than the utterance-level file
    assert len(vtt_cues(out)) > len(vtt_cues(tmp_path / "d.vtt"))
    bad = bsstream("replay", saved, "--output", str(tmp_path / "b.srt"), "--subtitle-tasks", "a,,b")
    assert bad.code == ExitStatus.USAGE and "--subtitle-tasks" in bad.err and "Traceback" not in bad.err
    assert not (tmp_path / "b.srt").exists()
    level = bsstream("replay", saved, "--subtitle-level", "word")
    assert level.code == ExitStatus.USAGE and "--subtitle-level" in level.err


def test_split_channels_carry_their_name_and_never_overlap(testdata: Path, tmp_path: Path) -> None:
    r = bsstream(
        "analyze", "--local", "--channels", "split", "--channel-names", "agent,customer",
        str(testdata / TWO), "--output", str(tmp_path / "c.srt"), "--output", str(tmp_path / "c.vtt"),
        "--subtitle-level", "segment",
    )  # fmt: skip
    assert r.code == 0, r.err
    for cues in (srt_cues(tmp_path / "c.srt"), vtt_cues(tmp_path / "c.vtt")):
        assert_readable(cues)
        body = [c[2] for c in cues if not c[2][0].startswith("[emulator")]
        assert body and all(lines[0].startswith(("agent: ", "customer: ")) for lines in body), body
        # both talk at once: stacked cues, one line per channel, in channel order
        stacked = [lines for lines in body if len(lines) == 2 and lines[1].startswith("customer: ")]
        assert stacked and all(lines[0].startswith("agent: ") for lines in stacked)


def test_several_inputs_give_one_file_per_input(testdata: Path, tmp_path: Path) -> None:
    (tmp_path / "calls").mkdir()
    for name in ("a", "b"):
        (tmp_path / "calls" / f"{name}.wav").write_bytes((testdata / JFK).read_bytes())
    r = bsstream(
        "analyze", "--local", "calls/a.wav", "calls/b.wav", "--output", "x.srt", "--output", "x.vtt",
        cwd=tmp_path,
    )  # fmt: skip
    assert r.code == 0, r.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["calls", "x.a.srt", "x.a.vtt", "x.b.srt", "x.b.vtt"]
    for name in ("a", "b"):
        assert_readable(srt_cues(tmp_path / f"x.{name}.srt"))
        text = (tmp_path / f"x.{name}.vtt").read_text(encoding="utf-8")
        assert f"source: calls/{name}.wav\n" in text and "sources:" not in text
        assert "calls/" not in (tmp_path / f"x.{name}.srt").read_text(encoding="utf-8")


def test_per_input_names_are_stable_and_distinct() -> None:
    paths = per_input_paths(Path("out/x.srt"), ["calls/2024/a.wav", "calls/2025/a.wav", "stdin", "b.mp3"])
    assert {k: v.name for k, v in paths.items()} == {
        "calls/2024/a.wav": "x.calls_2024_a.wav.srt",
        "calls/2025/a.wav": "x.calls_2025_a.wav.srt",
        "stdin": "x.stdin.srt",
        "b.mp3": "x.b.srt",
    }
    assert all(p.parent == Path("out") for p in paths.values())


# -- hostile labels from a strict server, then through ffmpeg ------------------------------------


def _hostile_handler(
    requests: Iterator[api_pb2.AudioStream], context: grpc.ServicerContext
) -> Iterator[api_pb2.StreamResult]:
    for _ in requests:  # take all the audio, answer at the end
        pass
    results = [
        api_pb2.InferenceResult(
            id=str(i),
            start_time=f"{i * 1.0:.2f}",
            end_time=f"{i * 1.0 + 0.9:.2f}",
            task="tone",
            prediction=[api_pb2.Prediction(label=label, posterior="0.5")],
            final_label=label,
            level=api_pb2.utterance,
        )
        for i, label in enumerate(HOSTILE)
    ]
    yield api_pb2.StreamResult(cid=CID, pid=1, message_id=0, result=results)


def _run_hostile(testdata: Path, outputs: list[str]) -> int:
    with FakeServer(scripted(_hostile_handler)) as server:
        config = RunConfig(
            method="StreamAudio",
            inputs=[str(testdata / JFK)],
            credentials=Credentials(CID, KEY),
            endpoint=parse_endpoint(server.address),
            insecure=True,
            json=True,
            outputs=outputs,
            subtitle_tasks="tone",
        )
        err = io.StringIO()
        code = run_streams(config, Streams(stdin=io.BytesIO(), stdout=io.StringIO(), stderr=err))
    assert code == 0, err.getvalue()
    return code


def _ffmpeg(*args: str) -> None:
    exe = imageio_ffmpeg.get_ffmpeg_exe()
    done = subprocess.run([exe, "-v", "error", "-y", *args], capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr.decode(errors="replace")


def _ass_dialogue(path: Path) -> list[str]:
    """The text of each Dialogue line of an .ass file ffmpeg wrote (what libass would draw)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.split(",", 9)[9] for line in lines if line.startswith("Dialogue:")]


def test_hostile_labels_show_literally_in_ffmpeg_and_parsers(testdata: Path, tmp_path: Path) -> None:
    srt, vtt = tmp_path / "h.srt", tmp_path / "h.vtt"
    _run_hostile(testdata, [str(srt), str(vtt)])
    # webvtt-py: the cue text holds entities, which unescape to the label exactly
    vtt_texts = [html.unescape(" ".join(c[2])) for c in vtt_cues(vtt)]
    assert vtt_texts == [f"tone {label} 50%" for label in HOSTILE]
    raw = vtt.read_text(encoding="utf-8")
    assert "&lt;b&gt;" in raw and "&amp;amp;" in raw and raw.count("-->") == len(HOSTILE)
    # pysrt: lookalikes instead of markup, nothing lost, no arrow that could start a timing line
    srt_texts = [" ".join(c[2]) for c in srt_cues(srt)]
    assert srt_texts == [
        "tone \u2039b\u203a 50%",
        "tone \u2039/script\u203ax 50%",
        "tone &amp; 50%",
        "tone a --\u203a b 50%",
        "tone \u2774\u29f5an8\u2775\u29f5N 50%",
    ]
    # mux both into a video, read back through ffmpeg's decoders (what players use)
    video = tmp_path / "v.mkv"
    _ffmpeg(
        "-f", "lavfi", "-i", "color=black:s=160x90:d=5:r=5", "-i", str(srt), "-i", str(vtt),
        "-map", "0:v", "-map", "1:s", "-map", "2:s", "-c:v", "mpeg4",
        "-c:s:0", "srt", "-c:s:1", "copy", str(video),
    )  # fmt: skip
    _ffmpeg("-i", str(video), "-map", "0:s:0", str(tmp_path / "srt.ass"))
    _ffmpeg("-i", str(video), "-map", "0:s:1", str(tmp_path / "vtt.ass"))
    from_srt = _ass_dialogue(tmp_path / "srt.ass")
    from_vtt = _ass_dialogue(tmp_path / "vtt.ass")
    assert len(from_srt) == len(from_vtt) == len(HOSTILE)
    assert from_srt == [t.replace("\n", "\\N") for t in srt_texts]  # no {\b1}: no tag was read
    assert "tone <b> 50%" in from_vtt and "tone </script>x 50%" in from_vtt  # literal in ASS
    assert "tone &amp; 50%" in from_vtt and "tone a --> b 50%" in from_vtt
    assert not any("{\\b1}" in t for t in from_srt + from_vtt)


def test_real_cues_survive_a_mux_into_matroska(vox_run: Path, tmp_path: Path) -> None:
    video = tmp_path / "vox.mkv"
    _ffmpeg(
        "-f", "lavfi", "-i", "color=black:s=160x90:d=5:r=5", "-i", str(vox_run / "u.srt"),
        "-i", str(vox_run / "u.vtt"), "-map", "0:v", "-map", "1:s", "-map", "2:s",
        "-c:v", "mpeg4", "-c:s:0", "srt", "-c:s:1", "webvtt", str(video),
    )  # fmt: skip
    _ffmpeg("-i", str(video), "-map", "0:s:0", str(tmp_path / "back.srt"))
    _ffmpeg("-i", str(video), "-map", "0:s:1", "-c:s", "copy", str(tmp_path / "back.vtt"))
    want_srt, want_vtt = srt_cues(vox_run / "u.srt"), vtt_cues(vox_run / "u.vtt")
    got_srt, got_vtt = srt_cues(tmp_path / "back.srt"), vtt_cues(tmp_path / "back.vtt")
    assert [c[2] for c in got_srt] == [c[2] for c in want_srt]
    assert [c[2] for c in got_vtt] == [c[2] for c in want_vtt]
    assert [round(c[0], 2) for c in got_srt] == [round(c[0], 2) for c in want_srt]


# -- the pure builder's limits, whatever the results ---------------------------------------------

_labels = st.text(st.characters(codec="utf-8"), min_size=1, max_size=90)
_window = st.tuples(
    st.floats(0, 60, allow_nan=False),
    st.floats(-1, 60, allow_nan=False),
    st.sampled_from(["emotion", "gender", "a_very_long_task_name_for_a_new_model", "tone"]),
    _labels,
    st.sampled_from([None, 0, 1]),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(_window, min_size=1, max_size=12), st.sampled_from(["utterance", "segment"]))
def test_any_results_give_readable_cues(windows: list, level: str) -> None:
    results = []
    messages = []
    for i, (start, length, task, label, channel) in enumerate(windows):
        result = Result(
            id=str(i),
            start_time=f"{start:.2f}",
            end_time=f"{start + length:.2f}",
            task=task,
            predictions=(Prediction(label=label, posterior="0.5"),),
            final_label=label,
            level=level if i % 3 else "segment",
        )
        results.append(result)
        messages.append(ResultMessage(1, 1, i, (result,), source="a.wav", channel=channel))
    record = StreamRecord(StreamInfo("a.wav", "StreamAudio", {}), messages=messages)
    cues = build_cues([record], SubtitleOptions(level, ("all",)), notice=["[a notice]"])
    spans = []
    for cue in cues:
        lines = cue.text.split("\n")
        assert 1 <= len(lines) <= MAX_LINES and all(len(x) <= MAX_LINE for x in lines), lines
        assert cue.end > cue.start and cue.end - cue.start <= MAX_CUE_SECONDS + 1e-6
        spans.append((cue.start, cue.end))
    spans.sort()
    assert all(b[0] >= a[1] - 1e-9 for a, b in itertools.pairwise(spans))


def test_cue_lines_pack_in_order_and_cut_long_words() -> None:
    parts = ["emotion neutral 100%", "gender female 100%", "age 46–65 100%", "positivity negative 100%"]
    assert cue_lines(parts) == [
        "emotion neutral 100% · gender female 100%",
        "age 46–65 100% · positivity negative 100%",
    ]
    long = cue_lines(["x" * 100], prefix="customer: ")
    assert long == ["customer: " + "x" * 32, "x" * 42, "x" * 26]


def test_an_hour_of_two_channels(tmp_path: Path) -> None:
    # an hour of 2 s segments on two channels, half overlapping: every boundary resolved
    messages = [
        ResultMessage(
            1, 1, i,
            (Result(str(i), f"{i * 2 + c:.2f}", f"{i * 2 + c + 2:.2f}", "emotion",
                    (Prediction("neutral", "0.7"),), "neutral", None, "segment"),),
            source="long.wav", channel=c,
        )
        for i in range(1800)
        for c in (0, 1)
    ]  # fmt: skip
    sink = SrtExport(tmp_path / "long.srt", SubtitleOptions("segment"))
    sink.begin(StreamInfo("long.wav", "StreamAudio", {}))
    for m in messages:
        sink.message(m)
    cues = build_cues(sink.streams, sink.options)
    # a second of ch0 alone, then both stacked (a line each, channel order), a second of ch1
    assert len(cues) == 3601
    assert all(c.end - c.start == pytest.approx(1.0) for c in cues)
    assert cues[0].text == "ch0: emotion neutral 70%" and cues[-1].text == "ch1: emotion neutral 70%"
    assert all(c.text == "ch0: emotion neutral 70%\nch1: emotion neutral 70%" for c in cues[1:-1])


def test_partial_line_names_each_partial_subtitle_file(tmp_path: Path) -> None:
    from bsstream.export.partial import partial_text
    from bsstream.protocol.stream import StreamOutcome

    sink = SrtExport(tmp_path / "x.srt", SubtitleOptions(per_input=True))
    for source, status in (("a.wav", ExitStatus.SUCCESS), ("b.wav", ExitStatus.CONNECTION)):
        info = StreamInfo(source, "StreamAudio", {})
        sink.begin(info)
        result = Result("1", "0.00", "2.00", "emotion", (Prediction("sad", "0.9"),), "sad", None, "utterance")
        sink.message(ResultMessage(1, 1, 0, (result,), source=source))
        sink.end(info, StreamOutcome(status=status, audio_seconds=2.0, error="b.wav: reset"))
    sink.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.a.srt", "x.b.partial.srt"]
    assert partial_text([sink]) == (
        f"results received so far were written to {tmp_path / 'x.b.partial.srt'} "
        f"({tmp_path / 'x.b.srt'} is written only by a complete run)"
    )
    assert srt_cues(tmp_path / "x.b.partial.srt")[0][2] == ["[partial: b.wav: reset]"]
    assert srt_cues(tmp_path / "x.a.srt") == [(0.0, 2.0, ["emotion sad 90%"])]
