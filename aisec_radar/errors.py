"""Our own exception types.

The core raises these; only the edges (cli/, dashboard/) turn them into messages and exit codes,
so a library caller can tell "bad input" from "bug" without parsing text.
"""

from __future__ import annotations


class AisecRadarError(Exception):
    """Base of every error the core raises on purpose. ``exit_code`` is what the CLI exits with."""

    exit_code = 1


class ConfigError(AisecRadarError):
    """A setting is unknown, of the wrong type, or its file is broken."""

    exit_code = 2


class InputError(AisecRadarError):
    """User input (a file, a flag, a label) is malformed; the message names what and where."""

    exit_code = 2


class TaxonomyError(AisecRadarError):
    """The taxonomy YAML is invalid; the message carries the YAML path of the problem."""

    exit_code = 2


class StoreError(AisecRadarError):
    """The database cannot be used as asked."""


class SchemaTooNew(StoreError):
    """The file was written by a newer aisec-radar; opening it could corrupt it."""


class DatabaseLocked(StoreError):
    """Another process held the database for longer than the lock timeout."""

    exit_code = 75  # EX_TEMPFAIL: cron may simply retry


class UnknownPaper(AisecRadarError):
    """A paper id is not in the store."""

    exit_code = 2


class CrawlError(AisecRadarError):
    """A harvest could not complete; nothing past the last committed page was stored."""


class ClassifyError(AisecRadarError):
    """Classification could not run (no model, broken artifact, encoder failure)."""
