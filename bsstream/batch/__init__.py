"""Batch work: many inputs, sharding, result-driven exit codes, one output file per input,
progress and the end-of-run report.

Layout (every module is imported lazily by the CLI, only when a batch feature is used):

- ``inputs.py``   pure (plus directory listing): INPUT specs -> :class:`Input` list; ``--shard K/N``
- ``failon.py``   pure: the ``--fail-on`` grammar, matching, and a Sink that records matches
- ``outdir.py``   ``--output-dir``: per-input file names, an atomic per-input JSON-lines Sink with
                  a completion marker, and ``is_done`` for ``--skip-done``
- ``progress.py`` the Rich progress display on stderr (files, audio seconds, real-time factor)
- ``report.py``   the end-of-run table (Rich) and its plain-text twin

No module here imports rich at import time; ``progress`` and ``report`` import it inside the
functions that draw.
"""
