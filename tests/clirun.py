"""Run the real CLI in a subprocess (real stdin/stdout/stderr, real exit codes)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Result:
    code: int
    out: str
    err: str


def bsstream(
    *args: str,
    stdin: bytes | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 60,
) -> Result:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("BS_")}
    environ.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-m", "bsstream", *args],
        input=stdin if stdin is not None else b"",
        capture_output=True,
        env=environ,
        cwd=cwd,
        timeout=timeout,
    )
    return Result(
        proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace")
    )
