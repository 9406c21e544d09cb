"""The rules and scenarios that ``kizuki eval`` and ``kizuki coverage`` measure.

By default the built-in library: the repository's ``rules/`` and ``scenarios/``
folders (each scenario folder carries its own Sigma rules), found relative to the
installed package. ``--rules`` / ``--scenarios`` replace it (so that, for example,
SigmaHQ's Windows rules can be measured alone); ``--builtin`` adds it back.

Also here: whether a rule *reads* a kind of event (its logsource covers it, whatever
its detection says), which both the miss reasons of ``eval`` and ``coverage`` need.
"""

from __future__ import annotations

from collections.abc import Iterable

from kizuki.model.alert import attack_ids
from kizuki.rules import CompiledRule, Pipeline
from kizuki.rules.library import Library, builtin_paths, load_library, repo_root

#: (product, service, category, Windows event id), as ``RuleIndex.key_of`` gives.
Key = tuple[str | None, str | None, str | None, int | None]

_SERVICE_NAMES = {"sysmon": "Sysmon", "security": "Security", "powershell": "PowerShell",
                  "powershell-classic": "PowerShell classic", "system": "System"}


def rule_techniques(rule: CompiledRule) -> tuple[str, ...]:
    """The ATT&CK technique ids a rule's tags carry."""
    return attack_ids(rule.tags)[0]


def tag_techniques(tags: Iterable[object]) -> tuple[str, ...]:
    """The ATT&CK technique ids of any tag list (correlations, scenarios)."""
    return attack_ids([str(t) for t in tags])[0]


def reads(rule: CompiledRule, key: Key) -> bool:
    """Whether ``rule``'s logsource covers events of ``key`` (its detection aside).

    Mirrors ``CompiledRule.variant_for`` without the event ids a detection pins: a
    Windows category also covers the event types the pipeline binds to it (Security
    4688 for ``process_creation``).
    """
    product, service, category, event_id = key
    ls = rule.logsource
    if ls.product is not None and ls.product != product:
        return False
    if ls.service is not None and ls.service != service:
        return False
    if ls.category is None or ls.category == category:
        return True
    if product == "windows" and rule.pipeline is not None:
        return rule.pipeline.binding_for(ls.category, service, event_id) is not None
    return False


def describe_key(key: Key) -> str:
    """``windows/security 4624``, ``zeek/conn``: a kind of event, for people."""
    product, service, category, event_id = key
    text = "/".join(p for p in (product, service or category) if p) or "(no logsource)"
    return f"{text} {event_id}" if event_id is not None else text


def requirement(rule: CompiledRule) -> str:
    """What a rule needs collected: ``windows/process_creation (Sysmon 1 or Security 4688)``."""
    ls = rule.logsource
    text = "/".join(p for p in (ls.product, ls.service, ls.category) if p) or "any log"
    if ls.product == "windows" and ls.category:
        pipeline = rule.pipeline or Pipeline.default()
        bindings = pipeline.bindings(ls.category)
        if bindings:
            alts = " or ".join(
                f"{_SERVICE_NAMES.get(b.service, b.service)} "
                f"{','.join(str(i) for i in sorted(b.event_ids))}" for b in bindings)
            text += f" ({alts})"
    return text


__all__ = [
    "Key", "Library", "builtin_paths", "describe_key", "load_library", "reads", "repo_root",
    "requirement", "rule_techniques", "tag_techniques",
]
