"""The CLI in-process (``bsstream.cli.main(argv, streams)``, what tests/clirun.py runs by
default) behaves like ``python -m bsstream``, reads only the environment and working directory
it is given, and leaves the process as it found it."""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bsstream import redact
from bsstream.app import Streams
from bsstream.cli import main
from bsstream.emulator.server import Emulator
from tests.clirun import InProcessTimeout, Result, bsstream
from tests.conftest import tone_pcm, write_wav

KEY = "sk-inprocess-RECOGNISABLE-2468"


SPEECH = "01_jfk_16k_mono_s16.wav"


@pytest.fixture
def wav(tmp_path: Path) -> str:
    return str(write_wav(tmp_path / "t.wav", tone_pcm(0.3)))


@pytest.fixture
def speech(testdata: Path) -> Path:
    return testdata / SPEECH


def process_state() -> dict[str, Any]:
    return {
        "std": (sys.stdin, sys.stdout, sys.stderr),
        "environ": dict(os.environ),
        "cwd": os.getcwd(),
        "signals": {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGALRM)},
        "secrets": set(redact._SECRETS),
    }


def without_pid(out: str) -> list[dict[str, Any]]:
    lines = [json.loads(x) for x in out.splitlines()]
    for line in lines:
        line.pop("pid", None)  # the emulator's process id: differs between processes
    return lines


def test_same_result_as_the_real_entry_point(wav: str, speech: Path, tmp_path: Path) -> None:
    """The smoke test of ``python -m bsstream``: output, exit code and stdin match in-process."""
    cases: list[tuple[list[str], bytes | None]] = [
        (["--version"], None),
        (["analyze", wav, "--local", "--chunk-ms", "5"], None),  # usage error, exit 2
        (["analyze", "-", "--local", "--json"], speech.read_bytes()),
    ]
    for args, stdin in cases:
        real = bsstream(*args, stdin=stdin, cwd=tmp_path, subprocess=True)
        here = bsstream(*args, stdin=stdin, cwd=tmp_path)
        assert (here.code, here.err) == (real.code, real.err), args
        if "--json" in args:
            assert real.code == 0 and without_pid(here.out) == without_pid(real.out) != []
            assert {x["source"] for x in without_pid(here.out)} == {"stdin"}
        else:
            assert here.out == real.out
    assert [bsstream(*a, subprocess=True).code for a, _ in cases[:2]] == [0, 2]


def test_the_process_is_left_as_it_was(speech: Path, tmp_path: Path) -> None:
    before = process_state()
    args = ["analyze", str(speech), "--local", "--json", "--api-key", KEY]
    ok = bsstream(*args, env={"BS_IN_PROCESS": "1"}, cwd=tmp_path)
    assert ok.code == 0 and ok.out
    bad = bsstream("analyze", "nothing.wav", "--local", "--api-key", KEY, cwd=tmp_path)
    assert bad.code == 4 and "nothing.wav" in bad.err
    assert process_state() == before
    assert "BS_IN_PROCESS" not in os.environ and KEY not in redact._SECRETS


def test_relative_paths_and_dotenv_come_from_the_given_cwd(speech: Path, tmp_path: Path) -> None:
    (tmp_path / "here.wav").symlink_to(speech)
    with Emulator(cid=5, api_key=KEY) as emu:
        (tmp_path / ".env").write_text(f"BS_CID=5\nBS_API_KEY={KEY}\nBS_ENDPOINT={emu.address}\n")
        r = bsstream("analyze", "here.wav", "--insecure", "--json", "--retries", "0", cwd=tmp_path)
    assert r.code == 0, r.err
    assert {x["source"] for x in without_pid(r.out)} == {"here.wav"}
    assert not Path("here.wav").exists()  # the test process's own directory is another one


def run_main(*args: str, environ: dict[str, str], stdin: bytes = b"") -> Result:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(args), Streams(stdin=io.BytesIO(stdin), stdout=out, stderr=err, environ=environ))
    return Result(code, out.getvalue(), err.getvalue())


def test_settings_come_from_the_given_environment_not_the_process(
    wav: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Emulator(cid=5, api_key=KEY) as emu:
        good = {"BS_CID": "5", "BS_API_KEY": KEY, "BS_ENDPOINT": emu.address, "PATH": os.environ["PATH"]}
        monkeypatch.setenv("BS_CID", "not-a-number")  # the process's own: must play no part
        monkeypatch.setenv("BS_ENDPOINT", "127.0.0.1:1")
        r = run_main("analyze", wav, "--insecure", "--json", "--retries", "0", environ=good)
        assert r.code == 0, r.err
        assert KEY not in r.out + r.err
        for name, value in good.items():
            monkeypatch.setenv(name, value)  # now the process has them and the run does not
        r = run_main("analyze", wav, "--insecure", environ={"PATH": os.environ["PATH"]})
        assert r.code == 2 and "missing" in r.err and "--cid" in r.err


def test_secrets_are_masked_within_a_run_and_forgotten_after(tmp_path: Path) -> None:
    named = str(tmp_path / f"{KEY}.wav")  # a path that happens to hold the key
    r = bsstream("analyze", named, "--local", "--api-key", KEY)
    assert r.code == 4 and KEY not in r.err and "***.wav" in r.err
    r = bsstream("analyze", named, "--local")  # a new run: it never saw the key
    assert r.code == 4 and named in r.err


def test_the_given_environment_reaches_grpc(wav: str) -> None:
    """gRPC's C core reads its proxy variables from the process environment: the run's own."""
    listener = socket.create_server(("127.0.0.1", 0))
    seen: list[bytes] = []

    def accept() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.settimeout(10)
            seen.append(conn.recv(4096))

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    host = "a" * 64 + ".invalid"  # never resolved: rejected locally by the resolver
    proxy = f"http://127.0.0.1:{listener.getsockname()[1]}"
    unset = {name: None for name in ("no_proxy", "NO_PROXY", "http_proxy", "https_proxy")}
    try:
        r = bsstream(
            "analyze", wav, "--endpoint", f"{host}:443", "--cid", "1", "--api-key", KEY, "--retries", "0",
            env={**unset, "grpc_proxy": proxy},
        )  # fmt: skip
        thread.join(10)
    finally:
        listener.close()
    assert r.code == 5, r.err
    assert seen and seen[0].startswith(f"CONNECT {host}:443 ".encode())
    assert "grpc_proxy" not in os.environ


@pytest.fixture
def fifo(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "nobody-writes.fifo"
    os.mkfifo(path)
    yield path


def test_a_run_past_its_timeout_is_stopped_and_cleaned_up(fifo: Path, tmp_path: Path) -> None:
    before = process_state()
    with pytest.raises(InProcessTimeout):
        bsstream("analyze", str(fifo), "--local", "--timeout", "60", cwd=tmp_path, timeout=0.5)
    assert process_state() == before


def test_each_run_starts_afresh(speech: Path) -> None:
    """Nothing said "once" in one run is remembered by the next (a new process each time)."""
    for _ in range(2):
        r = bsstream("analyze", str(speech), "--local", "--json")
        assert r.code == 0 and r.err.count("note: results from the local emulator") == 1, r.err


def test_a_run_off_the_main_thread_installs_no_signal_handlers(speech: Path) -> None:
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    results: list[Result] = []
    thread = threading.Thread(target=lambda: results.append(bsstream("analyze", str(speech), "--local")))
    thread.start()
    thread.join(60)
    assert results and results[0].code == 0 and results[0].out, results
    assert {s: signal.getsignal(s) for s in before} == before
