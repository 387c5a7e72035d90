"""Ctrl-C in a batch (--jobs 3 over 12 inputs, a real process and a real SIGINT): the end-of-run
report has a line for every input, done, interrupted or not started, and the "interrupted" line
names only files that were in fact written."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import wave
from pathlib import Path

from bsstream.batch.outdir import is_done
from tests.conftest import write_wav


def test_ctrl_c_reports_done_interrupted_and_not_started(tmp_path: Path, testdata: Path) -> None:
    with wave.open(str(testdata / "01_jfk_16k_mono_s16.wav")) as w:
        rate = w.getframerate()
        speech = w.readframes(w.getnframes())
    folder = tmp_path / "in"
    folder.mkdir()
    short = [write_wav(folder / f"a_{i:02d}.wav", speech[: rate * 2]) for i in range(3)]  # 1 s
    long = [write_wav(folder / f"b_{i:02d}.wav", speech) for i in range(3, 12)]  # 11 s
    out_dir, out_file = tmp_path / "out", tmp_path / "all.jsonl"
    env = {k: v for k, v in os.environ.items() if not k.startswith("BS_")}
    options = ["--local", "--json", "--realtime", "--jobs", "3"]
    options += ["--output-dir", str(out_dir), "--output", str(out_file)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "bsstream", "analyze", str(folder), *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env=env,
    )
    try:
        assert proc.stdout is not None
        # the signal: a result of a long input is out, so the three short ones are done and
        # three long ones are streaming
        for line in proc.stdout:
            data = json.loads(line)
            if data.get("result") and "b_" in data.get("source", ""):
                break
        else:
            raise AssertionError(proc.communicate(timeout=5))
        proc.send_signal(signal.SIGINT)
        _, err_bytes = proc.communicate(timeout=30)
    finally:
        proc.kill()
    err = err_bytes.decode()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    lines = err.splitlines()
    status: dict[str, str] = {}
    for path in short + long:  # one report line per input, whatever became of it
        (row,) = [x for x in lines if x.startswith(f"{path}: ")]
        status[path.name] = row.split(": ", 1)[1].split(",")[0]
    assert [status[p.name] for p in short] == ["ok"] * 3
    assert [status[p.name] for p in long[:3]] == ["interrupted (130)"] * 3
    assert [status[p.name] for p in long[3:]] == ["not started"] * 6
    assert "12 inputs: 3 ok, 3 interrupted, 6 not started" in lines
    # the last line names what was written: the --output file (under its partial name: the
    # run is not complete) and the 3 complete files of --output-dir
    partial = out_file.with_name("all.partial.jsonl")
    assert lines[-1].startswith(f"interrupted: results received so far were written to {partial} ")
    assert lines[-1].endswith(
        f"; 3 complete output(s) in {out_dir}; run again with --skip-done to finish the rest"
    )
    assert partial.exists() and not out_file.exists()
    done = sorted(p.name for p in out_dir.rglob("*.jsonl") if is_done(p))
    assert done == [f"{p.name}.jsonl" for p in short]
