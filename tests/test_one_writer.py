"""Every stderr line goes through one writer (bsstream.redact.write_message): secrets masked,
one line per message; the run's message writer is chosen once; replay's errors come out of
cli.main's one exception handler."""

from __future__ import annotations

import io
from pathlib import Path

from bsstream.app import Messages
from bsstream.redact import register_secret, secrets_scope, write_message
from bsstream.status import UsageError
from tests.clirun import bsstream


def test_write_message_masks_secrets_and_keeps_one_line() -> None:
    out = io.StringIO()
    with secrets_scope():
        register_secret("s3cr3t-key")
        write_message(out, "error: bad key s3cr3t-key\nand \x1b[31mred")
        write_message(out, "Traceback\n  line s3cr3t-key\n", raw=True)
    lines = out.getvalue().splitlines()
    assert lines[0] == "error: bad key ***\\x0aand \\x1b[31mred"
    assert lines[1:] == ["Traceback", "  line ***"]


def test_write_message_ignores_a_closed_stream() -> None:
    out = io.StringIO()
    out.close()
    write_message(out, "nobody reads this")  # no exception


def test_messages_print_through_the_printer_chosen_at_the_start() -> None:
    seen: list[str] = []
    err = io.StringIO()
    messages = Messages(err, seen.append)
    messages.say("warning: x\ty")
    messages.error(UsageError("no"))
    assert seen == ["warning: x\\x09y", "error: no"] and err.getvalue() == ""
    plain = Messages(err)
    plain.say("note: once")
    assert err.getvalue() == "note: once\n"


def test_replay_errors_come_from_cli_main(tmp_path: Path) -> None:
    saved = tmp_path / "run.jsonl"
    saved.write_text("", encoding="utf-8")
    result = bsstream("replay", str(saved), "--output", str(tmp_path / "out.xyz"))
    assert result.code == 2
    assert result.err.startswith(f"error: --output {tmp_path / 'out.xyz'}: unknown extension '.xyz'")
    assert len(result.err.splitlines()) == 1
