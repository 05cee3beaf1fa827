"""``modelyard models replay NAME/versions/N``: rebuild a version from its lineage, compare."""

from __future__ import annotations

from typing import Annotated

import typer

from ._app import DbOpt, JsonOpt, ProjectOpt, open_from_cli
from ._models import models_app
from ._render import console, emit_json, number, styled, table


@models_app.command("replay")
def replay(
    ref: Annotated[str, typer.Argument(help="The version: NAME/versions/N, NAME@N or "
                                            "NAME@alias.")],
    tolerance: Annotated[float, typer.Option(
        help="Largest absolute difference of a metric still counted as the same.")] = 1e-9,
    keep: Annotated[bool, typer.Option(
        "--keep", help="Keep the rebuilt version in the registry (deleted by default; its "
                       "run stays, tagged replay_of).")] = False,
    json_out: JsonOpt = False, project: ProjectOpt = None, db_url: DbOpt = None,
) -> None:
    """Rebuild a version from its lineage alone (the same dataset version, spec, seed, split
    and tuned parameters) in a fresh run; show its metrics beside the registered ones and
    the library versions that differ. Exits 1 when a metric differs beyond the tolerance."""
    from ..train import replay as replay_version

    with open_from_cli(project, db_url) as yard:
        report = replay_version(yard, ref, tolerance=tolerance, keep=keep)
    if json_out:
        emit_json(report.to_dict())
    else:
        out = console()
        out.print(f"replayed {report.original.ref} from {report.dataset} (content "
                  f"{report.content_hash[:12]}) in run {report.run_id}"
                  + (f" as {report.replayed.ref}" if report.kept else ""), markup=False)
        if report.params:
            out.print("tuned parameters fixed: " + ", ".join(
                f"{k}={number(v)}" for k, v in sorted(report.params.items())), markup=False)
        split = {True: "the same held-out rows", False: "DIFFERENT held-out rows",
                 None: "held-out rows not fingerprinted on the original"}[report.same_split]
        out.print(f"split: {split}", markup=False)
        bad = {m.name for m in report.mismatches}
        table(f"metrics (tolerance {report.tolerance:g})",
              ["metric", "registered", "replayed", "difference", ""],
              [[m.name, number(m.registered), number(m.replayed),
                "" if m.difference is None else f"{m.difference:+.3g}",
                styled("differs", "red") if m.name in bad else (
                    styled("same", "green") if m.compared else "timing, not compared")]
               for m in report.metrics])
        if report.environment:
            table("environment: what differs", ["package", "then", "now"],
                  [[k, then or "-", now or "-"] for k, (then, now) in
                   report.environment.items()])
        else:
            out.print("environment: the same package versions", markup=False)
        out.print(styled("reproduced" if report.reproduced else "NOT reproduced",
                         "bold green" if report.reproduced else "bold red"))
    if not report.reproduced:
        raise typer.Exit(1)
