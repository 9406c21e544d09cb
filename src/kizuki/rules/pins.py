"""Values a rule's detection pins (``EventID``, ``Channel``): every match has one.

The index uses them to skip a rule for events of other ids without running it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sigma.conditions import ConditionAND, ConditionIdentifier, ConditionOR, ConditionSelector
from sigma.exceptions import SigmaError
from sigma.rule import SigmaDetection, SigmaDetectionItem, SigmaDetections, SigmaRule
from sigma.types import SigmaNumber, SigmaString

PinFn = Callable[[SigmaDetectionItem], frozenset[Any] | None]


#: The names of the Windows event id: Sigma's, and ECS's (``event.code`` holds the event
#: id of a Windows event; see :func:`kizuki.rules.compile.event_id_of`).
EVENT_ID_FIELDS = frozenset({"EventID", "event.code"})


def pin_event_id(item: SigmaDetectionItem) -> frozenset[Any] | None:
    if item.field not in EVENT_ID_FIELDS or item.modifiers or item.negated or not item.value:
        return None
    out: set[int] = set()
    for v in item.value:
        if isinstance(v, SigmaNumber) and isinstance(v.number, int):
            out.add(v.number)
        elif isinstance(v, SigmaString) and not v.contains_special() and str(v).isdigit():
            out.add(int(str(v)))
        else:
            return None
    return frozenset(out)


def pin_channel(item: SigmaDetectionItem) -> frozenset[Any] | None:
    if item.field != "Channel" or item.modifiers or item.negated or not item.value:
        return None
    out: set[str] = set()
    for v in item.value:
        if isinstance(v, SigmaString) and not v.contains_special():
            out.add(str(v).lower())
        else:
            return None
    return frozenset(out)


def _pin_and(pins: Sequence[frozenset[Any] | None]) -> frozenset[Any] | None:
    out: frozenset[Any] | None = None
    for p in pins:
        if p is not None:
            out = p if out is None else out & p
    return out


def _pin_or(pins: Sequence[frozenset[Any] | None]) -> frozenset[Any] | None:
    if not pins or any(p is None for p in pins):
        return None
    return frozenset().union(*[p for p in pins if p is not None])


def _pin_detection(det: SigmaDetection, fn: PinFn) -> frozenset[Any] | None:
    pins = [
        _pin_detection(i, fn) if isinstance(i, SigmaDetection) else fn(i)
        for i in det.detection_items
    ]
    return _pin_and(pins) if det.item_linking is ConditionAND else _pin_or(pins)


def _pin_node(node: Any, dets: SigmaDetections, fn: PinFn) -> frozenset[Any] | None:
    if isinstance(node, ConditionIdentifier):
        det = dets.detections.get(node.identifier)
        return _pin_detection(det, fn) if det is not None else None
    if isinstance(node, ConditionSelector):
        pins = [_pin_node(i, dets, fn) for i in node.resolve_referenced_detections(dets)]
        return _pin_and(pins) if node.cond_class is ConditionAND else _pin_or(pins)
    if isinstance(node, ConditionAND):
        return _pin_and([_pin_node(a, dets, fn) for a in node.args])
    if isinstance(node, ConditionOR):
        return _pin_or([_pin_node(a, dets, fn) for a in node.args])
    return None  # NOT pins nothing


def pinned(rule: SigmaRule, conds: Sequence[Any], fn: PinFn) -> frozenset[Any] | None:
    """The values of a field every match of ``rule`` must have (None: unconstrained)."""
    try:
        return _pin_or([_pin_node(c, rule.detection, fn) for c in conds])
    except SigmaError:
        return None
