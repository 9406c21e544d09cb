"""The alert of a finished scenario chain: evidence, entity, context, score, explanation.

Score: the scenario's score plus the context that applied (``CONTEXT_WEIGHTS``), at
most 100 — night or a holiday counts more than business hours (R16). The explanation
reads as a sentence per stage, in the calendar's zone (Asia/Tokyo by default).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from kizuki.context import Context
from kizuki.context.assets import Asset
from kizuki.detect.entities import is_person, raw_value, user_key
from kizuki.model import Alert, AlertKind, Evidence
from kizuki.model.alert import attack_ids
from kizuki.rules.scenario import Scenario

#: What context adds to a scenario's score (docs/scenarios.md). ``off_hours`` counts
#: only when none of night, holiday and weekend applied; the asset weight is that of
#: the most critical asset touched (the entity or a server in the evidence).
CONTEXT_WEIGHTS: dict[str, float] = {
    "night": 10.0, "holiday": 10.0, "weekend": 5.0, "off_hours": 5.0,
    "asset_critical": 10.0, "asset_high": 5.0,
}
MAX_SCORE = 100.0


def scenario_alert(s: Scenario, ctx: Context, chain_evidence: list[Evidence],
                   path: dict[str, str], absent: list[tuple[str, datetime]]) -> Alert:
    """The alert of a finished chain: its evidence in time order, the entity path, the
    context that applied and the score it adds, and an explanation."""
    cal = ctx.calendar
    evidence = sorted(chain_evidence, key=lambda e: (
        e.event.timestamp, e.event.origin.path, e.event.origin.offset or 0))
    times = [e.event.timestamp for e in evidence]
    entity = dict(path)
    if "user" not in entity:
        for e in evidence:
            u = raw_value(e.event, "user.name")
            # The alert names a person: a 6416's machine account (ws-07$) or a
            # service's SYSTEM would send the analyst to the wrong account.
            if u and is_person(user_key(u)):
                entity["user"] = user_key(u)
                break
    context: dict[str, Any] = {}
    if any(cal.is_night(t) for t in times):
        context["night"] = True
    holiday = next((h for h in map(cal.holiday_name, times) if h), None)
    if holiday:
        context["holiday"] = holiday
    if any(cal.is_weekend(t) for t in times):
        context["weekend"] = True
    if any(cal.is_off_hours(t) for t in times):
        context["off_hours"] = True
    touched: list[Asset] = []
    for e in evidence:
        a = ctx.asset(raw_value(e.event, "host.name"))
        if a is not None and a not in touched:
            touched.append(a)
    top = max(touched, key=lambda a: a.rank, default=None)
    if top is not None and top.rank >= 3:
        context["asset"] = {"host": top.host, "criticality": top.criticality}
    mine = ctx.asset(entity.get("host") or entity.get("ip"))
    if mine is not None:
        context["entity_asset"] = mine.summary()
    if absent:
        context["absent"] = [{"stage": n, "deadline": t.isoformat()} for n, t in absent]
    score = s.score
    for k in ("night", "holiday", "weekend"):
        if k in context:
            score += CONTEXT_WEIGHTS[k]
    if "off_hours" in context and not any(k in context for k in ("night", "holiday",
                                                                    "weekend")):
        score += CONTEXT_WEIGHTS["off_hours"]
    rank = max([a.rank for a in touched] + [mine.rank if mine else 0])
    score += CONTEXT_WEIGHTS["asset_critical"] if rank >= 4 else \
        CONTEXT_WEIGHTS["asset_high"] if rank == 3 else 0.0
    techniques, tactics = attack_ids(list(s.tags))
    return Alert(
        kind=AlertKind.scenario, rule_id=s.id, rule_title=s.title, severity=s.level,
        score=min(score, MAX_SCORE), entity=entity, first_seen=times[0],
        last_seen=times[-1], evidence=evidence, attack=techniques, tactics=tactics,
        context=context, explanation=_explain(s, ctx, absent, evidence, entity, context),
        playbook=s.playbook, tags=s.tags,
    )

def _explain(s: Scenario, ctx: Context, absent_stages: list[tuple[str, datetime]],
             evidence: list[Evidence], entity: dict[str, str], context: dict[str, Any]) -> str:
    cal = ctx.calendar
    who = ", ".join(f"{k} {v}" for k, v in entity.items())
    parts = [f"Scenario “{s.title}” on {who}:"]
    prev: datetime | None = None
    absent = dict(absent_stages)
    for n, stage in enumerate(s.stages, 1):
        if stage.name in absent:
            parts.append(f"stage {n} “{stage.name}” did not happen within "
                         f"{_span(stage.within)} (until "
                         f"{cal.local(absent[stage.name]):%Y-%m-%d %H:%M %Z});")
            continue
        mine = [e.event.timestamp for e in evidence if e.stage == stage.name]
        if not mine:
            continue
        a, b = cal.local(mine[0]), cal.local(mine[-1])
        span = f"{a:%Y-%m-%d %H:%M:%S}" + (f"–{b:%H:%M:%S}" if b != a else "") + \
            f" {a:%Z}"
        gap = f", {_span(mine[0] - prev)} after the previous stage" if prev else ""
        parts.append(f"stage {n} “{stage.name}”: {len(mine)} event"
                     f"{'s' if len(mine) != 1 else ''}, {span}{gap};")
        prev = mine[-1]
    facts = []
    if context.get("night"):
        facts.append("at night")
    if context.get("holiday"):
        facts.append(f"on a holiday ({context['holiday']})")
    if context.get("weekend"):
        facts.append("on a weekend")
    if "asset" in context:
        facts.append(f"{context['asset']['criticality']} asset {context['asset']['host']}")
    text = " ".join(parts).rstrip(";") + "."
    if facts:
        text += " Context: " + ", ".join(facts) + "."
    if s.playbook:
        text += f" Proposed playbook: {s.playbook}."
    return text



def _span(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 1:
        return f"{int(delta.total_seconds())} s"
    if minutes < 120:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min"
