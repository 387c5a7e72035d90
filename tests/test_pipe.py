"""`bsstream ... | head` closing stdout ends quietly: no traceback, no error line."""

from __future__ import annotations

import subprocess
import sys


def test_head_closing_stdout_ends_quietly(testdata, tmp_path):
    wav = str(testdata / "10_voxconverse_aepyx_8k_mono_s16_169s.wav")
    pipeline = (
        f"{sys.executable} -m bsstream analyze --local --json --chunk-ms 100 '{wav}' 2>err.txt | head -n 1; "
        "echo rc=${PIPESTATUS[0]}; cat err.txt"
    )
    for mode in ("--json", "--plain"):
        cmd = pipeline if mode == "--json" else pipeline.replace(" --json", "")
        out = subprocess.run(
            ["bash", "-c", cmd], capture_output=True, text=True, timeout=120, cwd=tmp_path
        ).stdout
        lines = out.splitlines()
        assert len(lines) >= 2
        assert "rc=0" in lines[1]
        rest = "\n".join(lines[2:])
        assert "Traceback" not in rest and "error" not in rest.lower() and "Broken pipe" not in rest
