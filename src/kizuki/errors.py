"""The one exception root of Kizuki; every error says where it happened."""

from __future__ import annotations


class KizukiError(Exception):
    """Root of every error Kizuki raises on purpose.

    ``where`` is a human-readable location: ``file:line``, ``file@offset`` or a rule id.
    """

    def __init__(self, message: str, *, where: str | None = None) -> None:
        self.message = message
        self.where = where
        super().__init__(f"{where}: {message}" if where else message)


class RecordError(KizukiError):
    """One record of a log could not be parsed; the reader turns it into a warning.

    ``kind`` is a short stable label (``bad-json``, ``bad-header``, ...) used to count
    warnings per kind in ``kizuki ingest`` statistics.
    """

    def __init__(self, message: str, *, kind: str = "bad-record", where: str | None = None) -> None:
        self.kind = kind
        super().__init__(message, where=where)


class SourceError(KizukiError):
    """A whole input (file, archive member) could not be opened or recognised."""


class ConfigError(KizukiError):
    """A settings, mapping, context or rule file is invalid."""
