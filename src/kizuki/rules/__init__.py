"""Sigma rules for Kizuki: load with pySigma, compile once, match events fast (issue 3).

- ``load_rules(paths)`` / ``load_ruleset(paths)``: rule files and folders → compiled
  rules and ``RuleError``s (file, line, key); one bad rule never stops the others.
- ``CompiledRule``: metadata, logsource, pinned event ids, ``matches(event)``.
- ``RuleIndex``: candidate rules per event by logsource and event id; ``match_all``.
- ``Pipeline``: the declared field mapping and Windows logsource coverage
  (``pipeline.yaml``).
"""

from kizuki.rules.compile import CompiledRule, compile_rule
from kizuki.rules.errors import RuleError
from kizuki.rules.index import RuleIndex
from kizuki.rules.pipeline import Binding, Pipeline
from kizuki.rules.sigma import RuleSet, load_rules, load_ruleset, rule_files, rules_from_yaml

__all__ = [
    "Binding",
    "CompiledRule",
    "Pipeline",
    "RuleError",
    "RuleIndex",
    "RuleSet",
    "compile_rule",
    "load_rules",
    "load_ruleset",
    "rule_files",
    "rules_from_yaml",
]
