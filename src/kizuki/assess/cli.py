"""The ``kizuki eval`` and ``kizuki coverage`` commands (mounted by ``kizuki.cli``)."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from kizuki.assess.coverage import Coverage, coverage, parse_sources, sources_from
from kizuki.assess.evaluate import Evaluation, Explanations, evaluate, to_dict
from kizuki.assess.labels import load_all
from kizuki.assess.library import Library, load_library
from kizuki.assess.report import write_report
from kizuki.errors import KizukiError
from kizuki.sources import SourceSettings

console = Console(width=None if sys.stdout.isatty() else 180)
err = Console(stderr=True)

RulesOpt = Annotated[list[Path] | None, typer.Option(
    "--rules", help="Sigma rule file or folder (repeatable). Replaces the built-in library.")]
ScenariosOpt = Annotated[list[Path] | None, typer.Option(
    "--scenarios", help="Scenario file or folder (repeatable). Replaces the built-in library.")]
BuiltinOpt = Annotated[bool, typer.Option(
    "--builtin", help="Also load the built-in rules/ and scenarios/ with --rules/--scenarios.")]


class CoverageFormat(StrEnum):
    table = "table"
    json = "json"


def _fail(message: str) -> typer.Exit:
    err.print(Text(f"error: {message}", style="red"))
    return typer.Exit(2)


def _library(rules: list[Path] | None, scenarios: list[Path] | None, builtin: bool) -> Library:
    lib = load_library(rules or [], scenarios or [], builtin=True if builtin else None)
    if lib.errors:
        err.print(f"{len(lib.errors)} rule/scenario file(s) could not be loaded; first: "
                  f"{lib.errors[0]}", markup=False, highlight=False)
    return lib


def eval_command(
    datasets: Annotated[list[Path], typer.Argument(
        help="Folders (or files) of labelled data; labelled files under them are read.")],
    labels: Annotated[list[Path], typer.Option(
        "--labels", help="MANIFEST.csv, a Security-Datasets metadata YAML or a folder of "
                         "them (repeatable).")],
    rules: RulesOpt = None,
    scenarios: ScenariosOpt = None,
    builtin: BuiltinOpt = False,
    report: Annotated[Path | None, typer.Option(
        "--report", help="Write the report: .md (Markdown) or .html.")] = None,
    explanations: Annotated[Path | None, typer.Option(
        "--explanations", help="YAML of {file, rule, verdict, explanation} for benign "
                               "files' alerts.")] = None,
    json_out: Annotated[Path | None, typer.Option(
        "--json", help="Also write the figures as JSON.")] = None,
    jobs: Annotated[int | None, typer.Option(
        "--jobs", "-j", help="Worker processes (default: all cores).")] = None,
    timezone: Annotated[str, typer.Option(
        "--timezone", help="Zone of logs written in local time.")] = "Asia/Tokyo",
) -> None:
    """Run the rules and scenarios over labelled attack data; report what was detected."""
    try:
        lab = load_all(labels)
        lib = _library(rules, scenarios, builtin)
        notes = Explanations.load(explanations) if explanations else None
    except KizukiError as exc:
        raise _fail(str(exc)) from exc
    chosen = lab.under(datasets)
    if not chosen:
        raise _fail(f"no labelled file under {', '.join(map(str, datasets))} "
                    f"({len(lab)} labels read)")
    err.print(f"{len(chosen)} labelled files, {len(lib.rules)} rules, {len(lib.scenarios)} "
              f"scenarios", markup=False, highlight=False)

    def progress(n: int, total: int, name: str) -> None:
        if sys.stderr.isatty():
            err.print(f"[{n}/{total}] {name}", markup=False, highlight=False, end="\r")

    ev = evaluate(datasets, lab, lib, jobs=jobs, explanations=notes,
                  settings=SourceSettings(timezone), progress=progress)
    _print_eval(ev)
    if report is not None:
        err.print(f"report: {write_report(ev, report)}", markup=False, highlight=False)
    if json_out is not None:
        json_out.write_bytes(orjson.dumps(to_dict(ev), option=orjson.OPT_INDENT_2))
        err.print(f"figures: {json_out}", markup=False, highlight=False)


def _print_eval(ev: Evaluation) -> None:
    table = Table(title="Detection by data set")
    for col in ("set", "files", "techniques detected", "rate"):
        table.add_column(col)
    for g, n, d, t in ev.groups():
        table.add_row(Text(g), str(n), f"{d}/{t}", f"{100 * d / t:.1f}%" if t else "-")
    console.print(table)
    misses = Table(title="Missed techniques")
    for col in ("technique", "reason", "detail"):
        misses.add_column(col)
    for tr in ev.techniques:
        if not tr.detected:
            misses.add_row(tr.technique, str(tr.reason), Text(tr.detail))
    if misses.row_count:
        console.print(misses)
    rate = ev.rate
    console.print(Text(
        f"Technique-level detection rate: {ev.detected}/{len(ev.techniques)}"
        + (f" ({100 * rate:.1f}%)" if rate is not None else "")
        + f"; files read: {len(ev.files)}; benign high/critical alerts to explain: "
          f"{sum(b.count for b in ev.benign)} ({sum(1 for b in ev.benign if not b.explanation)}"
          f" rule/file pairs unexplained)", style="bold"))


def coverage_command(
    sources: Annotated[list[str] | None, typer.Option(
        "--sources", help="Collected log sources: windows:security,windows:sysmon,"
                          "linux:auth,zeek:conn,process_creation,… (repeatable).")] = None,
    sources_dir: Annotated[list[Path] | None, typer.Option(
        "--sources-from", help="Infer the collected sources from a folder of logs.")] = None,
    rules: RulesOpt = None,
    scenarios: ScenariosOpt = None,
    builtin: BuiltinOpt = False,
    fmt: Annotated[CoverageFormat, typer.Option(
        "--format", help="table or json.")] = CoverageFormat.table,
    timezone: Annotated[str, typer.Option(
        "--timezone", help="Zone of logs written in local time (--sources-from).")] = (
        "Asia/Tokyo"),
) -> None:
    """Which rules and scenario stages can work with the log sources you collect."""
    if not sources and not sources_dir:
        raise _fail("give --sources (e.g. windows:security,windows:sysmon) or --sources-from")
    try:
        lib = _library(rules, scenarios, builtin)
        categories = {r.logsource.category for r in lib.rules if r.logsource.category}
        collected = parse_sources(sources or [], categories)
        if sources_dir:
            collected += sources_from(sources_dir, SourceSettings(timezone))
    except KizukiError as exc:
        raise _fail(str(exc)) from exc
    cov = coverage(lib, collected)
    if fmt is CoverageFormat.json:
        sys.stdout.write(orjson.dumps(cov.to_dict(), option=orjson.OPT_INDENT_2).decode()
                         + "\n")
        return
    _print_coverage(cov)


def _few(names: list[str], n: int = 3) -> str:
    more = f" (+{len(names) - n} more)" if len(names) > n else ""
    return ", ".join(names[:n]) + more


def _print_coverage(cov: Coverage) -> None:
    console.print(Text("Collected: " + (", ".join(s.name for s in cov.sources) or "(nothing)")))
    table = Table(title="Scenarios")
    for col in ("scenario", "works", "stage", "status"):
        table.add_column(col)
    for sc in cov.scenarios:
        for i, st in enumerate(sc.stages):
            status = Text(f"fed by {_few(st.fed_by)}", style="green") if st.works else \
                Text(f"blind: {st.reason}", style="red")
            table.add_row(Text(f"{sc.id} {sc.title}") if i == 0 else Text(""),
                          ("yes" if sc.works else "NO") if i == 0 else "",
                          Text(st.name + (" (absent)" if st.absent else "")), status)
    if cov.scenarios:
        console.print(table)
    req = Table(title=f"Rules: {cov.rules_working}/{cov.rules_total} can work")
    for col in ("needs", "rules", "works", "fed by"):
        req.add_column(col)
    for r in cov.requirements:
        req.add_row(Text(r.requirement), str(len(r.rules)),
                    Text("yes", style="green") if r.works else Text("no", style="red"),
                    Text(_few(r.fed_by)))
    console.print(req)


__all__ = ["coverage_command", "eval_command"]
