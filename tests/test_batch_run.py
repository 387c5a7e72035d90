"""Batch runs end to end against the emulator: --jobs, --output-dir, --skip-done after a kill,
--fail-on, --shard, mixed good and bad inputs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import wave
from pathlib import Path

import pytest

from bsstream.batch.outdir import is_done
from tests.clirun import bsstream
from tests.conftest import write_wav


def speech_pcm(testdata: Path, name: str) -> bytes:
    with wave.open(str(testdata / name)) as w:
        assert w.getframerate() == 16000 and w.getnchannels() == 1
        return w.readframes(w.getnframes())


@pytest.fixture
def corpus(tmp_path: Path, testdata: Path) -> Path:
    """20 inputs: the 12 test recordings (5 shipped, 7 generated variants) and 8 speech files
    made here, in subfolders."""
    root = tmp_path / "corpus"
    (root / "testdata").mkdir(parents=True)
    for f in sorted(testdata.iterdir()):
        if f.suffix in (".wav", ".mp3", ".flac", ".opus", ".m4a"):
            (root / "testdata" / f.name).symlink_to(f)
    assert len(list((root / "testdata").iterdir())) == 12
    jfk = speech_pcm(testdata, "01_jfk_16k_mono_s16.wav")
    dialog = speech_pcm(testdata, "g_dialogue_16k_mono_s16_zero_gaps.wav")
    (root / "made").mkdir()
    for i in range(8):
        pcm = jfk[: (i + 2) * 32000] + dialog[i * 32000 : (i + 4) * 32000]
        write_wav(root / "made" / f"call_{i:02d}.wav", pcm)
    return root


def outputs(directory: Path) -> dict[str, list[dict]]:
    """Every output file's records, by path relative to the output dir (without the emulator's
    per-call ``pid``, which differs from run to run)."""

    def record(line: str) -> dict:
        data = json.loads(line)
        data.pop("pid", None)
        return data

    return {
        str(p.relative_to(directory)): [record(x) for x in p.read_text().splitlines()]
        for p in sorted(directory.rglob("*.jsonl"))
    }


def test_jobs_4_gives_every_input_complete_and_in_order(corpus: Path, tmp_path: Path) -> None:
    r4 = bsstream(
        "analyze",
        str(corpus),
        "--local",
        "--jobs",
        "4",
        "--output-dir",
        str(tmp_path / "j4"),
        "--json",
        timeout=240,
    )
    assert r4.code == 0, r4.err
    r1 = bsstream(
        "analyze", str(corpus), "--local", "--output-dir", str(tmp_path / "j1"), "--json", timeout=240
    )
    assert r1.code == 0, r1.err
    j4, j1 = outputs(tmp_path / "j4"), outputs(tmp_path / "j1")
    assert len(j4) == 20 and j4 == j1  # same files, same lines, same order within each
    for name, lines in j4.items():
        assert is_done(tmp_path / "j4" / name)
        assert "stream" in lines[0] and "end" in lines[-2]  # then the completion marker
        ids = [x["message_id"] for x in lines if "message_id" in x]
        assert ids == list(range(len(ids))), name
    # stdout: lines of different inputs interleave but each input's lines stay in order
    per_source: dict[str, list[int]] = {}
    for line in r4.out.splitlines():
        data = json.loads(line)
        if "message_id" in data:
            per_source.setdefault(data["source"], []).append(data["message_id"])
    assert len(per_source) == 20
    assert all(ids == sorted(ids) for ids in per_source.values())
    assert "20 inputs: 20 ok" in r4.err


def test_killed_batch_resumes_with_skip_done(corpus: Path, tmp_path: Path) -> None:
    made = corpus / "made"
    full = tmp_path / "full"
    assert bsstream("analyze", str(made), "--local", "--output-dir", str(full), "--json").code == 0
    part = tmp_path / "part"
    env = {k: v for k, v in os.environ.items() if not k.startswith("BS_")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bsstream",
            "analyze",
            str(made),
            "--local",
            "--output-dir",
            str(part),
            "--json",
            "--realtime",
            "--jobs",
            "2",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list(part.rglob("*.jsonl"))) < 2:
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 143, err  # terminated (SIGTERM)
    done_before = outputs(part)
    assert 2 <= len(done_before) < 8
    assert not [p for p in part.rglob("*") if p.is_file() and p.suffix != ".jsonl"]  # no half files
    again = bsstream("analyze", str(made), "--local", "--output-dir", str(part), "--json", "--skip-done")
    assert again.code == 0, again.err
    assert f"skipped {len(done_before)} input(s)" in again.err
    assert outputs(part) == outputs(full)


def test_fail_on_matching_non_matching_and_levels(testdata: Path) -> None:
    tts = str(testdata / "12_tts_orca_en_female_22k_mono_s16.wav")
    human = str(testdata / "05_vctk_p286_011_48k_mono_s16.wav")
    r = bsstream("deepfake", tts, human, "--local", "--json", "--fail-on", "deepfake=spoofed>=0.8")
    assert r.code == 10
    matches = [line for line in r.err.splitlines() if line.startswith("fail-on match")]
    assert matches and all(tts in m and "deepfake=spoofed>=0.8" in m for m in matches)
    assert "fail-on match (10)" in r.err  # the end-of-run report
    sources = {json.loads(x)["source"] for x in r.out.splitlines()}
    assert sources == {tts, human}  # the run still finished every input
    assert bsstream("deepfake", human, "--local", "--fail-on", "deepfake=spoofed>=0.8").code == 0
    utt = bsstream(
        "deepfake", tts, "--local", "--level", "utterance", "--fail-on", "deepfake=spoofed>=0.5@utterance"
    )
    assert utt.code == 10 and "(utterance)" in utt.err
    seg_only = bsstream(
        "deepfake", tts, "--local", "--level", "utterance", "--fail-on", "deepfake=spoofed>=0.5@segment"
    )
    assert seg_only.code == 0


@pytest.mark.parametrize("expr", ["emotion=angry", "deepfake>=0.5", "emotion=angry>=1.5", "x=y>=0.5@word"])
def test_fail_on_malformed_is_a_usage_error(expr: str, testdata: Path) -> None:
    r = bsstream("analyze", str(testdata / "01_jfk_16k_mono_s16.wav"), "--local", "--fail-on", expr)
    assert r.code == 2 and "--fail-on" in r.err and len(r.err.strip().splitlines()) == 1


def test_mixed_good_and_bad_inputs_exit_code_and_report(tmp_path: Path, testdata: Path) -> None:
    (tmp_path / "bad.wav").write_bytes(b"not audio at all" * 100)
    good = str(testdata / "01_jfk_16k_mono_s16.wav")
    r = bsstream(
        "analyze",
        good,
        str(tmp_path / "bad.wav"),
        str(tmp_path / "nothing-*.wav"),
        "--local",
        "--jobs",
        "2",
        "--json",
    )
    assert r.code == 4
    assert {json.loads(x)["source"] for x in r.out.splitlines()} == {good}
    report = r.err.splitlines()
    assert any(line.startswith(f"{good}: ok") for line in report)
    assert any("bad.wav: input error (4)" in line for line in report)
    assert "3 inputs:" in r.err


def test_shards_split_without_overlap_or_gaps(corpus: Path, tmp_path: Path) -> None:
    seen: list[str] = []
    for k in (1, 2, 3):
        out = tmp_path / f"s{k}"
        r = bsstream(
            "analyze", str(corpus / "made"), "--local", "--output-dir", str(out), "--shard", f"{k}/3"
        )
        assert r.code == 0, r.err
        seen.extend(outputs(out))
    assert sorted(seen) == sorted(outputs_all(corpus / "made"))
    assert bsstream("analyze", str(corpus), "--local", "--shard", "4/3").code == 2


def outputs_all(made: Path) -> list[str]:
    return [f"{p.name}.jsonl" for p in sorted(made.iterdir())]


def test_replay_reads_an_output_dir_file(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "o"
    assert bsstream("analyze", str(corpus / "made"), "--local", "--output-dir", str(out)).code == 0
    first = sorted(out.rglob("*.jsonl"))[0]
    r = bsstream("replay", str(first), "--json")
    assert r.code == 0, r.err
    assert r.out.splitlines() == first.read_text().splitlines()[:-1]  # all but the marker
    assert json.loads(first.read_text().splitlines()[-1])["complete"] is True
