"""Help people can scan (bsstream/helptext.py): bare ``bsstream`` prints a short usage to
stderr and exits 2; every command's --help groups its options under headings, shows its own
examples and only the exit codes it can return; nothing is wider than 100 columns at 80; the
command list does not cut descriptions with "..."."""

from __future__ import annotations

import re

import click
import pytest

from bsstream.cli import _register_optional_commands, cli
from bsstream.helptext import COMMANDS, ORDER, GroupedCommand
from tests.clirun import bsstream

NARROW = {"COLUMNS": "80", "LINES": "24"}

HEADINGS = {
    "analyze": ["Connection:", "Audio:", "Input:", "Output:", "Batch:", "Behaviour:"],
    "deepfake": ["Connection:", "Audio:", "Input:", "Output:", "Batch:", "Behaviour:"],
    "scan": ["Connection:", "Audio:", "Input:", "Output:", "Batch:", "Behaviour:"],
    "doctor": ["Connection:", "Behaviour:"],
    "replay": ["Output:", "Behaviour:"],
    "devices": ["Input:", "Behaviour:"],
    "serve": ["Connection:", "Access:", "Limits:", "Faults (for testing clients):", "Behaviour:"],
}


def section(text: str, heading: str) -> list[str]:
    """The lines of one help section (from its heading to the next blank-line-then-heading)."""
    lines = text.splitlines()
    start = lines.index(heading) + 1
    body = []
    for line in lines[start:]:
        if line and not line.startswith(" "):
            break
        body.append(line)
    return [line for line in body if line.strip()]


def test_bare_bsstream_prints_a_short_usage_to_stderr_exit_2() -> None:
    r = bsstream(env=NARROW)
    assert r.code == 2
    assert r.out == ""
    assert not r.err.startswith("error")  # not the whole help as an error blob
    lines = r.err.splitlines()
    assert lines[0].startswith("usage: bsstream COMMAND")
    assert len(lines) <= 24 and max(len(line) for line in lines) <= 80  # one screen
    for name in ORDER:
        assert re.search(rf"^  {name} +\S", r.err, re.M), name  # each command, described
    examples = section(r.err.replace("examples:", "EXAMPLES"), "EXAMPLES")
    assert len(examples) == len(ORDER)  # one example per line, one per command
    assert all(line.strip().startswith("bsstream ") for line in examples)


def test_top_level_help_lists_whole_descriptions_and_every_code() -> None:
    r = bsstream("--help", env=NARROW)
    assert r.code == 0
    commands = section(r.out, "Commands:")
    assert "..." not in "\n".join(commands) and "…" not in "\n".join(commands)
    for name in ORDER:
        assert COMMANDS[name].short in " ".join(" ".join(commands).split()), name
    codes = " ".join(" ".join(section(r.out, "Exit codes:")).split())
    for code in ("0 ok", "2 usage", "6 output", "10 a --fail-on", "130 interrupted"):
        assert code in codes


@pytest.mark.parametrize("name", ORDER)
def test_command_help_groups_examples_codes_and_width(name: str) -> None:
    r = bsstream(name, "--help", env=NARROW)
    assert r.code == 0, r.err
    text = r.out
    for heading in HEADINGS[name]:
        assert heading in text.splitlines(), (name, heading)
    assert "Options:" not in text.splitlines() and "Other:" not in text.splitlines()
    # its own examples, and only its own: each one is in the help
    examples = section(text, "Examples:")
    assert len(examples) == len(COMMANDS[name].examples)
    for (cmd, _), line in zip(COMMANDS[name].examples, examples, strict=True):
        assert line.strip().startswith(cmd)
    own = [line for line in examples if f"bsstream {name}" in line]
    assert own, f"{name}: no example runs the command itself"
    for other in ("analyze", "deepfake", "scan", "doctor", "serve"):
        if other != name and name != "replay":
            assert f"bsstream {other}" not in "\n".join(examples), (name, other)
    width = max(len(line) for line in text.splitlines())
    assert width <= 100, f"{name}: a line of {width} columns at COLUMNS=80"


def test_exit_codes_per_command() -> None:
    def codes(name: str) -> set[int]:
        text = " ".join(x.strip() for x in section(bsstream(name, "--help", env=NARROW).out, "Exit codes:"))
        return {int(c) for c in re.findall(r"(?:^|, )(\d+) ", text)}

    for name in ORDER:  # the help shows exactly the codes declared for the command
        assert codes(name) == {code for code, _ in COMMANDS[name].exit_codes}, name
    assert not {4, 6, 10} & codes("doctor")  # no input, no output file, no --fail-on
    assert {0, 1, 2, 3, 4, 5, 6, 10, 130} <= codes("analyze")
    assert 10 not in codes("replay") and 10 not in codes("serve")
    assert "--fail-on" in bsstream("analyze", "--help").out.split("Examples:")[1]
    assert "--fail-on" in bsstream("deepfake", "--help").out.split("Examples:")[1]


def test_every_visible_option_is_in_a_group() -> None:
    """A new option must be given a group in bsstream/helptext.py (else it lands in "Other")."""
    _register_optional_commands()
    for name in ORDER:
        command = cli.commands[name]
        assert isinstance(command, GroupedCommand), name
        ctx = click.Context(command, info_name=name)
        grouped = {n for _, names in COMMANDS[name].groups for n in names}
        for param in command.get_params(ctx):
            if isinstance(param, click.Option) and param.get_help_record(ctx) is not None:
                key = "help" if param is command.get_help_option(ctx) else param.name
                assert key in grouped, f"{name}: option {param.opts} has no group"
