"""Each stream option is defined once (its Click declaration) and carried by name into a typed
field: RunConfig's own, or the engine Options in ``RunConfig.stream``."""

from __future__ import annotations

from dataclasses import fields

from bsstream.app import RunConfig
from bsstream.cli import CONNECTION_OPTIONS, STREAM_OPTIONS, ConnectionArgs, analyze, doctor
from bsstream.engine.options import Options

# parameters that are not a field: the inputs (with --mic folded in) and what RunConfig derives
_NOT_FIELDS = {"inputs", "mic"}
_DERIVED = {"method", "inputs", "credentials", "endpoint", "stream", "insecure", "ca_cert", "local"}


def _names(options: list) -> set[str]:  # type: ignore[type-arg]
    def probe() -> None: ...

    for option in options:
        option(probe)
    return {p.name for p in probe.__click_params__}  # type: ignore[attr-defined]


def test_every_stream_option_is_a_field_and_every_field_an_option() -> None:
    params = _names(STREAM_OPTIONS) - _NOT_FIELDS
    run_fields = {f.name for f in fields(RunConfig)} - _DERIVED
    option_fields = {f.name for f in fields(Options)} - {"replay_seconds"}  # the library's alone
    assert params == run_fields | option_fields
    assert not run_fields & option_fields  # one home each


def test_connection_options_are_connection_args() -> None:
    assert _names(CONNECTION_OPTIONS) == {f.name for f in fields(ConnectionArgs)}


def test_commands_keep_every_option() -> None:
    names = {p.name for p in analyze.params}
    assert names == _names(STREAM_OPTIONS) | _names(CONNECTION_OPTIONS)
    assert {p.name for p in doctor.params} == _names(CONNECTION_OPTIONS) | {"timeout"}
