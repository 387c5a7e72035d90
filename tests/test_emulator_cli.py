"""``bsstream serve`` as a real subprocess: address line, clean stop, one-line errors."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from click.testing import CliRunner

from bsstream.emulator import Emulator
from bsstream.emulator.cli import serve_command
from bsstream.status import ExitStatus
from tests.test_emulator_support import call, config, load_wav, stream

SERVE = [sys.executable, "-m", "bsstream.emulator.cli"]
LISTENING = re.compile(r"^listening on 127\.0\.0\.1:(\d+) \((plaintext|TLS)\)$")


class Served:
    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [*SERVE, "--port", "0", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        assert self.proc.stdout is not None
        self.line = self.proc.stdout.readline().strip()
        match = LISTENING.match(self.line)
        assert match, (self.line, self.proc.stderr.read() if self.proc.poll() is not None else "")
        self.address = f"127.0.0.1:{match.group(1)}"
        self.mode = match.group(2)

    def stop(self, sig: int = signal.SIGTERM) -> tuple[int, str, str]:
        self.proc.send_signal(sig)
        out, err = self.proc.communicate(timeout=10)
        return self.proc.returncode, out, err


@pytest.fixture()
def served() -> Iterator[Served]:
    server = Served()
    yield server
    if server.proc.poll() is None:
        server.proc.kill()
        server.proc.wait()


@pytest.fixture(scope="module")
def jfk(testdata: Path) -> bytes:
    return load_wav(testdata / "01_jfk_16k_mono_s16.wav")[0]


def test_serve_prints_address_serves_and_stops_on_sigterm(served: Served, jfk: bytes) -> None:
    assert served.mode == "plaintext"
    out = call(served.address, stream(jfk))
    assert out.code == grpc.StatusCode.OK and out.results
    assert out.metadata.get("bsstream-emulator") == "1"
    code, stdout, stderr = served.stop()
    assert code == 0
    assert "Traceback" not in stderr and stdout == ""
    assert "not Behavioral Signals models" in stderr


def test_serve_stops_on_ctrl_c(served: Served) -> None:
    code, _, stderr = served.stop(signal.SIGINT)
    assert code == 0 and "Traceback" not in stderr


def test_serve_with_credentials_never_prints_the_key(jfk: bytes) -> None:
    server = Served("--cid", "42", "--api-key", "TOPSECRET-123", "--refuse-first", "1")
    try:
        assert call(server.address, stream(jfk[:32000])).code == grpc.StatusCode.UNAVAILABLE
        bad = call(server.address, [config(cid=42, token="nope")])
        assert bad.code == grpc.StatusCode.UNAUTHENTICATED and "TOPSECRET" not in bad.details
        good = call(server.address, [config(cid=42, token="TOPSECRET-123")])
        assert good.code == grpc.StatusCode.OK
    finally:
        code, stdout, stderr = server.stop()
    assert code == 0
    assert "TOPSECRET" not in server.line + stdout + stderr
    assert "refuse the first 1" in stderr


def test_port_in_use_is_one_line_and_connection_status() -> None:
    with Emulator() as emu:
        proc = subprocess.run([*SERVE, "--port", str(emu.port)], capture_output=True, text=True, timeout=20)
    assert proc.returncode == ExitStatus.CONNECTION
    assert proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1 and "cannot listen" in proc.stderr


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (("garbage", "garbage"), "not a PEM"),
        (("missing", "garbage"), "cannot read"),
        (("cert-only", None), "go together"),
    ],
)
def test_bad_tls_options_are_usage_errors(
    tmp_path: Path, files: tuple[str, str | None], message: str
) -> None:
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("hello\n")
    paths = {"garbage": garbage, "missing": tmp_path / "nope.pem", "cert-only": garbage}
    args = ["--tls-cert", str(paths[files[0]])]
    if files[1] is not None:
        args += ["--tls-key", str(paths[files[1]])]
    result = CliRunner().invoke(serve_command, args)
    assert result.exit_code == ExitStatus.USAGE
    assert message in result.output and "Traceback" not in result.output


def test_mismatched_pem_pair_is_a_usage_error(tmp_path: Path) -> None:
    for name in ("a", "b"):
        subprocess.run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-keyout",
                str(tmp_path / f"{name}.key"),
                "-out",
                str(tmp_path / f"{name}.crt"),
                "-days",
                "1",
                "-subj",
                "/CN=localhost",
            ],
            check=True,
            capture_output=True,
        )
    proc = subprocess.run(
        [*SERVE, "--port", "0", "--tls-cert", str(tmp_path / "a.crt"), "--tls-key", str(tmp_path / "b.key")],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert proc.returncode == ExitStatus.USAGE
    assert len(proc.stderr.strip().splitlines()) == 1 and "not a usable pair" in proc.stderr
    server = Served("--tls-cert", str(tmp_path / "a.crt"), "--tls-key", str(tmp_path / "a.key"))
    try:
        assert server.mode == "TLS"
    finally:
        assert server.stop()[0] == 0


def test_bad_fault_option_is_a_usage_error() -> None:
    result = CliRunner().invoke(serve_command, ["--abort-code", "NOT_A_CODE"])
    assert result.exit_code == ExitStatus.USAGE
    result = CliRunner().invoke(serve_command, ["--delay-ms", "-5"])
    assert result.exit_code == ExitStatus.USAGE


def test_help_lists_every_option() -> None:
    result = CliRunner().invoke(serve_command, ["--help"])
    assert result.exit_code == 0
    for option in (
        "--host",
        "--port",
        "--cid",
        "--api-key",
        "--tls-cert",
        "--tls-key",
        "--abort-after",
        "--abort-code",
        "--delay-ms",
        "--hang-after",
        "--refuse-first",
        "--close-early-after",
    ):
        assert option in result.output


def test_status_code_names_match_grpc() -> None:
    from bsstream.emulator import cli

    assert set(cli._CODES) == set(grpc.StatusCode.__members__) - {"OK"}


def test_importing_the_command_is_cheap() -> None:
    code = "import sys, bsstream.emulator.cli; print(' '.join(sorted(sys.modules)))"
    loaded = set(
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout.split()
    )
    assert not {m for m in loaded if m.split(".")[0] in ("grpc", "numpy", "webrtcvad")}
