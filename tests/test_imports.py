"""Layering: the pure core imports no grpc, rich or click; --help imports no heavy modules."""

from __future__ import annotations

import subprocess
import sys

PURE = [
    "bsstream.audio.chunks",
    "bsstream.audio.sniff",
    "bsstream.protocol.messages",
    "bsstream.protocol.results",
    "bsstream.protocol.summary",
    "bsstream.protocol.timeline",
    "bsstream.protocol.resume",
    "bsstream.protocol.stats",
    "bsstream.protocol.stream",
    "bsstream.protocol.jsonlines",
    "bsstream.status",
    "bsstream.settings",
    "bsstream.redact",
    "bsstream.netcheck",  # finds gRPC's trusted roots by path, without importing grpc
    "bsstream.diagnose",
]
FORBIDDEN = ["grpc", "rich", "click", "pydub", "numpy"]


def _loaded_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys; print(' '.join(sorted(sys.modules)))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return set(out.split())


def test_pure_core_imports_no_transport_or_presentation():
    loaded = _loaded_after("\n".join(f"import {m}" for m in PURE))
    assert not {m for m in loaded if m.split(".")[0] in FORBIDDEN}


def test_help_imports_no_heavy_modules():
    loaded = _loaded_after(
        "import sys\nfrom bsstream.cli import main\n"
        "sys.argv=['bsstream','--help']\n"
        "import contextlib, io\n"
        "buf = io.StringIO()\n"
        "with contextlib.redirect_stdout(buf): rc = main(['--help'])\n"
        "assert rc == 0 and 'analyze' in buf.getvalue() and 'serve' in buf.getvalue(), buf.getvalue()"
    )
    assert not {m for m in loaded if m.split(".")[0] in ("grpc", "rich", "pydub", "numpy", "webrtcvad")}
