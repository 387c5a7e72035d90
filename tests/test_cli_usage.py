"""Usage errors, credentials precedence and exit codes of the real CLI (no server needed)."""

from __future__ import annotations

import pytest

from tests.clirun import bsstream
from tests.conftest import tone_pcm, write_wav

KEY = "sk-live-RECOGNISABLE-0123456789"


@pytest.fixture
def wav(tmp_path):
    return str(write_wav(tmp_path / "t.wav", tone_pcm(0.3)))


def no_traceback(err: str) -> None:
    assert "Traceback" not in err


def test_help_and_version():
    r = bsstream("--help")
    assert r.code == 0 and "analyze" in r.out and "deepfake" in r.out and "Exit codes" in r.out
    r = bsstream("analyze", "--help")
    for option in (
        "--cid",
        "--api-key",
        "--endpoint",
        "--insecure",
        "--ca-cert",
        "--chunk-ms",
        "--level",
        "--realtime",
        "--json",
        "--logits",
        "--embeddings",
        "--timeout",
        "Examples",
    ):
        assert option in r.out
    r = bsstream("--version")
    assert r.code == 0 and "bsstream" in r.out


@pytest.mark.parametrize(
    "args,needle",
    [
        ([], "--cid"),
        (["--cid", "5"], "--api-key"),
        (["--api-key", KEY], "--cid"),
    ],
)
def test_missing_credentials_is_a_usage_error_naming_them(wav, tmp_path, args, needle):
    r = bsstream("analyze", wav, *args, cwd=tmp_path)
    assert r.code == 2
    assert needle in r.err and "missing" in r.err
    assert len(r.err.strip().splitlines()) == 1
    assert KEY not in r.err + r.out
    no_traceback(r.err)


def test_non_numeric_cid_flag_env_and_dotenv(wav, tmp_path):
    r = bsstream("analyze", wav, "--cid", "abc", "--api-key", KEY, cwd=tmp_path)
    assert r.code == 2 and "--cid" in r.err
    r = bsstream("analyze", wav, "--api-key", KEY, env={"BS_CID": "abc"}, cwd=tmp_path)
    assert r.code == 2 and "BS_CID" in r.err
    (tmp_path / ".env").write_text(f"BS_CID=xyz\nBS_API_KEY={KEY}\n")
    r = bsstream("analyze", wav, cwd=tmp_path)
    assert r.code == 2 and "BS_CID" in r.err and "not a number" in r.err
    assert KEY not in r.err
    no_traceback(r.err)


@pytest.mark.parametrize("value", ["99", "501", "abc"])
def test_chunk_ms_out_of_range(wav, value):
    r = bsstream("analyze", wav, "--local", "--chunk-ms", value)
    assert r.code == 2 and "--chunk-ms" in r.err
    no_traceback(r.err)


@pytest.mark.parametrize("endpoint", ["localhost", "example.com:", "host:port", ":443", "a:99999"])
def test_endpoint_without_valid_port(wav, endpoint):
    r = bsstream("analyze", wav, "--cid", "1", "--api-key", KEY, "--endpoint", endpoint)
    assert (r.code == 2 and "--endpoint" in r.err and "HOST:PORT" in r.err) or "port" in r.err
    assert r.code == 2
    no_traceback(r.err)


def test_unknown_level_is_usage_error(wav):
    r = bsstream("analyze", wav, "--local", "--level", "word")
    assert r.code == 2 and "--level" in r.err


def test_stdin_twice_is_usage_error():
    r = bsstream("analyze", "-", "-", "--local")
    assert r.code == 2 and "stdin" in r.err


def test_flags_beat_env_beat_dotenv(wav, tmp_path):
    """Precedence is visible in which credentials reach a server that accepts only one pair."""
    from bsstream.emulator.server import Emulator

    (tmp_path / ".env").write_text("BS_CID=111\nBS_API_KEY=dotenv-key-123\n")
    with Emulator(cid=111, api_key="dotenv-key-123") as emu:
        common = ["analyze", wav, "--insecure", "--endpoint", emu.address, "--json", "--retries", "0"]
        assert bsstream(*common, cwd=tmp_path).code == 0  # .env alone works
        r = bsstream(*common, env={"BS_API_KEY": "env-key-456"}, cwd=tmp_path)
        assert r.code == 3 and "UNAUTHENTICATED" in r.err  # env beats .env
        assert "env-key-456" not in r.err + r.out
        r = bsstream(*common, "--api-key", "dotenv-key-123", env={"BS_API_KEY": "env-key-456"}, cwd=tmp_path)
        assert r.code == 0  # flag beats env
        r = bsstream(*common, "--cid", "222", cwd=tmp_path)
        assert r.code == 3


@pytest.mark.parametrize("cid", ["9223372036854775808", "-1", "0"])
def test_cid_outside_int64_or_not_positive_is_one_usage_line(wav, tmp_path, cid):
    r = bsstream("analyze", wav, "--cid", cid, "--api-key", KEY, "--endpoint", "127.0.0.1:1", cwd=tmp_path)
    assert r.code == 2, r.err
    (line,) = r.err.strip().splitlines()
    assert "--cid" in line and "out of range" in line and "9223372036854775807" in line
    assert KEY not in r.err
    no_traceback(r.err)


def test_help_offers_api_key_file_and_warns_about_ps():
    r = bsstream("analyze", "--help")
    assert "--api-key-file" in r.out and "`ps`" in r.out
    assert "BEHAVIORALSIGNALS_CID" in r.out and "streaming.behavioralsignals.com:443" in r.out
