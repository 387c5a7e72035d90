"""Replay round-trip equals the live output: the same plain lines, summary and exports."""

from __future__ import annotations

from tests.clirun import bsstream


def test_replay_equals_live_output(testdata, tmp_path):
    wav = str(testdata / "g_dialogue_16k_mono_s16_zero_gaps.wav")
    live_plain = bsstream(
        "analyze",
        wav,
        "--local",
        "--output",
        str(tmp_path / "live.csv"),
        "--output",
        str(tmp_path / "live.srt"),
    )
    live_json = bsstream("analyze", wav, "--local", "--json")
    assert live_plain.code == live_json.code == 0
    saved = tmp_path / "run.jsonl"
    saved.write_text(live_json.out)
    replay_plain = bsstream(
        "replay",
        str(saved),
        "--output",
        str(tmp_path / "replay.csv"),
        "--output",
        str(tmp_path / "replay.srt"),
    )
    replay_json = bsstream("replay", str(saved), "--json")
    assert replay_plain.code == replay_json.code == 0, replay_plain.err
    assert replay_json.out == live_json.out
    assert replay_plain.out == live_plain.out  # every result line, the summary
    assert (tmp_path / "replay.csv").read_text() == (tmp_path / "live.csv").read_text()
    assert (tmp_path / "replay.srt").read_text() == (tmp_path / "live.srt").read_text()


def test_replay_of_a_scan(testdata, tmp_path):
    wav = str(testdata / "12_tts_orca_en_female_22k_mono_s16.wav")
    live_plain = bsstream("scan", wav, "--local")
    live_json = bsstream("scan", wav, "--local", "--json")
    saved = tmp_path / "scan.jsonl"
    saved.write_text(live_json.out)
    replay_json = bsstream("replay", str(saved), "--json")
    replay_plain = bsstream("replay", str(saved))
    assert replay_json.out == live_json.out
    # the two calls of a scan interleave differently from run to run: same lines, any order
    assert sorted(replay_plain.out.splitlines()) == sorted(live_plain.out.splitlines())
    assert "Deepfake verdict: SPOOFED" in replay_plain.out
