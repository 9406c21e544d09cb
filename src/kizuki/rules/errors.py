"""The error a Sigma rule raises when it cannot be loaded or compiled."""

from __future__ import annotations

from kizuki.errors import ConfigError


class RuleError(ConfigError):
    """A rule file, or one rule in it, could not be loaded or compiled.

    ``path`` and ``line`` say where (``line`` when it can be found), ``key`` names the
    YAML key at fault (``detection.selection.CommandLine|contains``), ``rule_id`` and
    ``title`` identify the rule when it got that far. Style §2: errors point at the key.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        key: str | None = None,
        rule_id: str | None = None,
        title: str | None = None,
    ) -> None:
        self.path = path
        self.line = line
        self.key = key
        self.rule_id = rule_id
        self.title = title
        where = path
        if where is not None and line is not None:
            where = f"{where}:{line}"
        text = f"{message} (key {key})" if key else message
        super().__init__(text, where=where)
