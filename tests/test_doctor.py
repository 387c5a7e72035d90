"""bsstream doctor against --local and a real `bsstream serve` process."""

from __future__ import annotations

from tests.clirun import bsstream

KEY = "sk-doctor-RECOGNISABLE-778899"


def test_doctor_local_all_ticks():
    r = bsstream("doctor", "--local")
    assert r.code == 0, r.out + r.err
    lines = r.out.strip().splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "✓ resolve",
        "✓ tcp",
        "✓ tls",
        "✓ credentials",
        "✓ stream",
    ]
    assert "emulator" in lines[-1]


def test_doctor_wrong_key_against_serve(serve):
    address = serve("--cid", "7", "--api-key", "right-key-123")
    r = bsstream("doctor", "--endpoint", address, "--insecure", "--cid", "7", "--api-key", KEY)
    assert r.code == 3
    last = r.out.strip().splitlines()[-1]
    assert last.startswith("✗ stream") and "UNAUTHENTICATED" in last and "--api-key" in last
    assert KEY not in r.out + r.err
    ok = bsstream("doctor", "--endpoint", address, "--insecure", "--cid", "7", "--api-key", "right-key-123")
    assert ok.code == 0, ok.out


def test_doctor_tls_client_to_plaintext_server(serve):
    address = serve()
    r = bsstream("doctor", "--endpoint", address, "--cid", "7", "--api-key", KEY)
    assert r.code == 5
    last = r.out.strip().splitlines()[-1]
    assert last.startswith("✗ tls") and "plaintext" in last and "--insecure" in last


def test_doctor_plaintext_client_to_tls_server(serve, tls_pair):
    cert, key = tls_pair
    address = serve("--tls-cert", str(cert), "--tls-key", str(key))
    r = bsstream("doctor", "--endpoint", address, "--insecure", "--cid", "7", "--api-key", KEY)
    assert r.code == 5
    assert r.out.strip().splitlines()[-1].startswith("✗ tls") and "drop --insecure" in r.out
    untrusted = bsstream("doctor", "--endpoint", address, "--cid", "7", "--api-key", KEY)
    assert untrusted.code == 5 and "--ca-cert" in untrusted.out
    trusted = bsstream(
        "doctor", "--endpoint", address, "--ca-cert", str(cert), "--cid", "7", "--api-key", KEY
    )
    assert trusted.code == 0, trusted.out + trusted.err
    assert "✓ tls: handshake complete" in trusted.out


def test_doctor_missing_credentials_and_refused_port():
    r = bsstream("doctor", "--endpoint", "127.0.0.1:1", "--insecure")
    assert r.code == 5 and r.out.strip().splitlines()[-1].startswith("✗ tcp")
    long_label = "a" * 64
    r = bsstream("doctor", "--endpoint", f"{long_label}.invalid:443")
    assert r.code == 5 and r.out.startswith("✗ resolve")


def test_analyze_tls_mismatch_both_ways(serve, tls_pair, tmp_path):
    from tests.conftest import tone_pcm, write_wav

    wav = str(write_wav(tmp_path / "t.wav", tone_pcm(0.5)))
    plain = serve()
    # a real process: the one line holds only if gRPC's C core does not log the failed
    # handshake to fd 2 itself (GRPC_VERBOSITY is set before grpc is first imported)
    r = bsstream(
        "analyze", wav, "--endpoint", plain, "--cid", "7", "--api-key", KEY, "--retries", "0", subprocess=True
    )
    assert r.code == 5 and "TLS" in r.err and "--insecure" in r.err
    assert len(r.err.strip().splitlines()) == 1 and "Traceback" not in r.err
    cert, key = tls_pair
    tls = serve("--tls-cert", str(cert), "--tls-key", str(key))
    r = bsstream(
        "analyze", wav, "--endpoint", tls, "--insecure", "--cid", "7", "--api-key", KEY, "--retries", "0"
    )
    assert r.code == 5 and "Traceback" not in r.err
    ok = bsstream("analyze", wav, "--endpoint", tls, "--ca-cert", str(cert), "--cid", "7", "--api-key", KEY)
    assert ok.code == 0, ok.err


def test_doctor_reads_endpoint_and_credentials_from_dotenv(tmp_path):
    from bsstream.emulator.server import Emulator

    with Emulator(cid=7, api_key=KEY) as emulator:
        (tmp_path / ".env").write_text(f"BS_ENDPOINT={emulator.address}\nBS_CID=7\nBS_API_KEY={KEY}\n")
        r = bsstream("doctor", "--insecure", cwd=tmp_path)
        assert r.code == 0, r.out + r.err
        assert f"connected to {emulator.address}" in r.out
        (tmp_path / ".env").write_text(f"BS_ENDPOINT={emulator.address}\nBS_CID=0\nBS_API_KEY={KEY}\n")
        r = bsstream("doctor", "--insecure", cwd=tmp_path)
    assert r.code == 2
    last = r.out.strip().splitlines()[-1]
    assert last.startswith("✗ credentials") and "BS_CID in .env" in last and "out of range" in last
    assert KEY not in r.out + r.err
