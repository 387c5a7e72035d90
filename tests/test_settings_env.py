"""Where credentials and the endpoint come from: flags > BS_* env > BEHAVIORALSIGNALS_* env >
.env (same names, same order); --api-key-file; every key .env.example documents is honoured;
`bsstream serve` takes its key from the environment and warns when exposed without one."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bsstream import settings
from bsstream.emulator.server import Emulator
from bsstream.settings import (
    CID_MAX,
    DEFAULT_ENDPOINT,
    Credentials,
    Endpoint,
    parse_cid,
    read_api_key_file,
    resolve_credentials,
    resolve_endpoint,
)
from bsstream.status import UsageError
from tests.clirun import Result, bsstream
from tests.conftest import ROOT, tone_pcm, write_wav

KEY = "sk-env-RECOGNISABLE-13579"
OTHER = "sk-other-RECOGNISABLE-97531"
# any connection that is not to 127.0.0.1 goes to a dead local proxy: a broken precedence can
# never reach the production endpoint from a test
NO_NETWORK = {
    "grpc_proxy": "http://127.0.0.1:9",
    "https_proxy": "http://127.0.0.1:9",
    "no_proxy": "127.0.0.1,localhost",
}


def run(*args: str, env: dict[str, str] | None = None, **kw: Any) -> Result:
    return bsstream(*args, env={**NO_NETWORK, **(env or {})}, **kw)


@pytest.fixture
def wav(tmp_path: Path) -> str:
    return str(write_wav(tmp_path / "t.wav", tone_pcm(0.3)))


@pytest.fixture
def strict() -> Iterator[Emulator]:
    """A server that accepts only cid 111 with KEY: which credentials arrived is in the exit code."""
    with Emulator(cid=111, api_key=KEY) as emulator:
        yield emulator


# -- resolution (pure) -------------------------------------------------------------------------

LAYERS = [  # highest precedence first: (where, cid, key)
    ("flag", "1", "k-flag"),
    ("env BS_", "2", "k-env-bs"),
    ("env BEHAVIORALSIGNALS_", "3", "k-env-vendor"),
    (".env BS_", "4", "k-dot-bs"),
    (".env BEHAVIORALSIGNALS_", "5", "k-dot-vendor"),
]


@pytest.mark.parametrize("top", range(len(LAYERS)))
def test_precedence_of_every_source(top: int) -> None:
    """With every source from ``top`` down set, the ``top`` one wins, for cid and key alike."""
    flag_cid = flag_key = None
    env: dict[str, str] = {}
    dot: dict[str, str] = {}
    for where, cid, key in LAYERS[top:]:
        if where == "flag":
            flag_cid, flag_key = cid, key
        else:
            target = env if where.startswith("env") else dot
            prefix = where.split()[1]
            target[f"{prefix}CID"] = cid
            target[f"{prefix}API_KEY"] = key
    got = resolve_credentials(flag_cid, flag_key, env=env, dotenv=dot)
    assert got == Credentials(int(LAYERS[top][1]), LAYERS[top][2])


def test_empty_values_count_as_unset() -> None:
    env = {"BS_CID": "", "BS_API_KEY": "  ", "BEHAVIORALSIGNALS_CID": "9"}
    got = resolve_credentials(None, None, env=env, dotenv={"BS_API_KEY": "from-dotenv"})
    assert got == Credentials(9, "from-dotenv")


def test_cid_and_key_may_come_from_different_sources() -> None:
    got = resolve_credentials(None, "k-flag", env={}, dotenv={"BEHAVIORALSIGNALS_CID": "77"})
    assert got == Credentials(77, "k-flag")


def test_bare_vendor_example_names_are_not_read_but_named() -> None:
    with pytest.raises(UsageError) as caught:
        resolve_credentials(
            None, None, env={"CID": "5", "API_KEY": OTHER}, dotenv={"CID": "5", "API_KEY": OTHER}
        )
    line = caught.value.line()
    assert "missing --cid" in line and "rename them BS_CID / BS_API_KEY" in line
    assert OTHER not in line


def test_dotenv_is_read_only_when_needed(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom() -> dict[str, str]:
        raise AssertionError(".env read although flags and environment had everything")

    monkeypatch.setattr(settings, "read_dotenv", boom)
    assert resolve_credentials("5", "k", env={}) == Credentials(5, "k")
    assert resolve_credentials(None, None, env={"BS_CID": "5", "BS_API_KEY": "k"}) == Credentials(5, "k")
    assert resolve_endpoint("h:1", env={}) == Endpoint("h", 1)


def test_endpoint_precedence() -> None:
    assert resolve_endpoint(None, env={}, dotenv={}) == settings.parse_endpoint(DEFAULT_ENDPOINT)
    assert resolve_endpoint(None, env={}, dotenv={"BS_ENDPOINT": "dot:1"}) == Endpoint("dot", 1)
    assert resolve_endpoint(None, env={"BS_ENDPOINT": "env:2"}, dotenv={"BS_ENDPOINT": "dot:1"}) == Endpoint(
        "env", 2
    )
    assert resolve_endpoint("flag:3", env={"BS_ENDPOINT": "env:2"}, dotenv={}) == Endpoint("flag", 3)
    with pytest.raises(UsageError, match=r"BS_ENDPOINT in \.env"):
        resolve_endpoint(None, env={}, dotenv={"BS_ENDPOINT": "no-port"})


@pytest.mark.parametrize("good", ["1", " 42 ", "+7", str(CID_MAX)])
def test_cid_in_range(good: str) -> None:
    assert parse_cid(good, "--cid") == int(good)


@pytest.mark.parametrize(
    ("bad", "words"),
    [
        (str(CID_MAX + 1), "out of range"),
        ("99999999999999999999999999999999999999", "out of range"),
        ("0", "out of range"),
        ("-5", "out of range"),
        ("abc", "not a number"),
        ("1_000", "not a number"),
        ("１２", "not a number"),  # fullwidth digits: int() would take them
        ("1.5", "not a number"),
    ],
)
def test_cid_out_of_range_or_not_a_number(bad: str, words: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_cid(bad, "BS_CID in .env")
    line = caught.value.line()
    assert words in line and "BS_CID in .env" in line and "\n" not in line
    assert len(line) < 200


def test_api_key_file(tmp_path: Path) -> None:
    path = tmp_path / "key"
    path.write_text(f"  {KEY}  \nsecond line ignored\n")
    assert read_api_key_file(str(path)) == KEY
    assert resolve_credentials("5", None, api_key_file=str(path), env={"BS_API_KEY": OTHER}) == Credentials(
        5, KEY
    )
    assert read_api_key_file("-", io.StringIO(KEY + "\n")) == KEY
    for content, words in [(b"\n", "is empty"), (b"\xff\xfe\x00bad", "not a text file")]:
        path.write_bytes(content)
        with pytest.raises(UsageError, match=words):
            read_api_key_file(str(path))
    with pytest.raises(UsageError, match="cannot read --api-key-file"):
        read_api_key_file(str(tmp_path / "missing"))
    with pytest.raises(UsageError, match="not both"):
        resolve_credentials("5", KEY, api_key_file=str(path), env={})


def test_api_key_file_dash_refuses_a_terminal() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    with pytest.raises(UsageError, match="terminal"):
        read_api_key_file("-", Terminal(KEY))


# -- the real CLI ------------------------------------------------------------------------------


def documented_dotenv_keys() -> set[str]:
    text = (ROOT / ".env.example").read_text()
    return set(re.findall(r"^#? ?([A-Z][A-Z0-9_]*)=", text, re.MULTILINE))


def test_every_key_of_env_example_is_honoured_from_dotenv(tmp_path: Path, wav: str, strict: Emulator) -> None:
    documented = documented_dotenv_keys()
    assert {"BS_CID", "BS_API_KEY", "BS_ENDPOINT"} <= documented
    values = {"BS_CID": "111", "BS_API_KEY": KEY, "BS_ENDPOINT": strict.address}
    vendor = {"BEHAVIORALSIGNALS_CID": "111", "BEHAVIORALSIGNALS_API_KEY": KEY}
    assert documented <= set(values) | set(vendor), "a key documented in .env.example has no test"
    for chosen in (values, {**vendor, "BS_ENDPOINT": strict.address}):
        (tmp_path / ".env").write_text("".join(f"{k}={v}\n" for k, v in chosen.items()))
        r = run("analyze", wav, "--insecure", "--json", "--retries", "0", cwd=tmp_path)
        assert r.code == 0, r.err  # cid, key and endpoint all came from .env
        assert KEY not in r.out + r.err
    # BS_ENDPOINT in .env decides where the call goes: a wrong one is named as coming from .env
    (tmp_path / ".env").write_text(f"BS_CID=111\nBS_API_KEY={KEY}\nBS_ENDPOINT=127.0.0.1:0\n")
    r = run("analyze", wav, "--insecure", cwd=tmp_path)
    assert r.code == 2 and "BS_ENDPOINT in .env" in r.err
    r = run("doctor", "--insecure", cwd=tmp_path, env={"BS_ENDPOINT": strict.address})
    assert r.code == 0, r.out + r.err  # the environment beats .env for the endpoint too


def test_vendor_names_and_precedence_end_to_end(tmp_path: Path, wav: str, strict: Emulator) -> None:
    common = ["analyze", wav, "--insecure", "--endpoint", strict.address, "--json", "--retries", "0"]
    vendor = {"BEHAVIORALSIGNALS_CID": "111", "BEHAVIORALSIGNALS_API_KEY": KEY}
    assert run(*common, env=vendor, cwd=tmp_path).code == 0
    r = run(*common, env={**vendor, "BS_API_KEY": OTHER}, cwd=tmp_path)
    assert r.code == 3 and OTHER not in r.err  # BS_* beats BEHAVIORALSIGNALS_*
    (tmp_path / ".env").write_text(f"BS_CID=222\nBS_API_KEY={OTHER}\n")
    assert run(*common, env=vendor, cwd=tmp_path).code == 0  # any environment beats .env
    r = run(
        *common, "--cid", "111", "--api-key", KEY, env={"BS_CID": "222", "BS_API_KEY": OTHER}, cwd=tmp_path
    )
    assert r.code == 0  # flags beat everything


def test_out_of_range_cid_from_each_source_is_a_usage_error(tmp_path: Path, wav: str) -> None:
    big = str(CID_MAX + 1)
    r = run("analyze", wav, "--cid", big, "--api-key", KEY, cwd=tmp_path)
    assert r.code == 2 and "--cid" in r.err and "out of range" in r.err
    r = run("analyze", wav, "--api-key", KEY, env={"BEHAVIORALSIGNALS_CID": "-1"}, cwd=tmp_path)
    assert r.code == 2 and "BEHAVIORALSIGNALS_CID" in r.err
    (tmp_path / ".env").write_text(f"BS_CID=0\nBS_API_KEY={KEY}\n")
    r = run("analyze", wav, cwd=tmp_path)
    assert r.code == 2 and "BS_CID in .env" in r.err
    assert len(r.err.strip().splitlines()) == 1 and KEY not in r.err


def test_api_key_file_end_to_end(tmp_path: Path, wav: str, strict: Emulator) -> None:
    key_file = tmp_path / "key.txt"
    key_file.write_text(KEY + "\n")
    common = ["analyze", wav, "--insecure", "--endpoint", strict.address, "--cid", "111", "--retries", "0"]
    assert run(*common, "--api-key-file", str(key_file), cwd=tmp_path).code == 0
    r = run(*common, "--api-key-file", "-", stdin=(KEY + "\n").encode(), cwd=tmp_path)
    assert r.code == 0, r.err
    r = run(*common, "--api-key-file", "-", stdin=(OTHER + "\n").encode(), cwd=tmp_path)
    assert r.code == 3 and OTHER not in r.out + r.err  # a key read from a file is redacted too
    r = run("analyze", "-", "--cid", "1", "--api-key-file", "-", stdin=b"x", cwd=tmp_path)
    assert r.code == 2 and "standard input" in r.err
    r = run(
        "doctor", "--endpoint", strict.address, "--insecure", "--cid", "111", "--api-key-file", str(key_file)
    )
    assert r.code == 0, r.out + r.err


# -- bsstream serve --------------------------------------------------------------------------------


def start_serve(*args: str, env: dict[str, str] | None = None) -> tuple[subprocess.Popen[str], str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("BS_", "BSSTREAM_SERVE"))}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bsstream", "serve", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**environ, **(env or {})},
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = re.search(r":(\d+) ", line)
    assert match, line
    return proc, f"127.0.0.1:{match.group(1)}"


def stop_serve(proc: subprocess.Popen[str]) -> str:
    proc.terminate()
    _, err = proc.communicate(timeout=10)
    return err


def test_serve_takes_its_key_from_the_environment() -> None:
    proc, address = start_serve("--cid", "7", env={"BSSTREAM_SERVE_API_KEY": KEY})
    try:
        wrong = run("doctor", "--endpoint", address, "--insecure", "--cid", "7", "--api-key", OTHER)
        assert wrong.code == 3
        right = run("doctor", "--endpoint", address, "--insecure", "--cid", "7", env={"BS_API_KEY": KEY})
        assert right.code == 0, right.out + right.err
    finally:
        err = stop_serve(proc)
    assert "warning" not in err and KEY not in err


def test_serve_warns_when_exposed_without_a_key() -> None:
    proc, _ = start_serve("--host", "0.0.0.0")
    err = stop_serve(proc)
    assert "warning: listening on 0.0.0.0" in err and "BSSTREAM_SERVE_API_KEY" in err
    proc, _ = start_serve("--host", "0.0.0.0", env={"BSSTREAM_SERVE_API_KEY": KEY})
    err = stop_serve(proc)
    assert "warning" not in err and KEY not in err
    proc, _ = start_serve()  # loopback without a key: fine, no warning
    assert "warning" not in stop_serve(proc)
