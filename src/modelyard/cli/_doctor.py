"""``modelyard doctor``: check the store, the artifacts and the prediction log, and repair
what is safe to repair."""

from __future__ import annotations

from typing import Annotated

import typer

from ._app import DbOpt, JsonOpt, ProjectOpt, app, open_from_cli
from ._render import console, emit_json, err_console, table


@app.command()
def doctor(
    repair: Annotated[bool, typer.Option(
        "--repair/--check-only",
        help="Recover crashed writers' prediction logs and remove unreadable leftovers and "
             "abandoned uploads (the default), or only report.")] = True,
    verify: Annotated[bool, typer.Option(
        "--verify/--no-verify", help="Hash every referenced artifact (reads them all).")
    ] = True,
    log_dir: Annotated[str | None, typer.Option(
        help="The prediction log's folder or fsspec URL [the log_dir setting, else "
             ".modelyard/predictions].")] = None,
    json_out: JsonOpt = False,
    project: ProjectOpt = None,
    db_url: DbOpt = None,
) -> None:
    """Check the project: the database, every artifact a version points to, and the
    prediction log; exit 1 when a problem is left that needs a person."""
    from ..monitor import check_prediction_log
    from ..store import check_store

    with open_from_cli(project, db_url) as yard:
        store = check_store(yard.store, repair=repair, verify=verify)
        log = check_prediction_log(log_dir or yard.monitor.log_root,
                                   repair=repair)
    problems = store.problems + [f"prediction log {path}: could not be sealed ({why}); free "
                                 "disk space and run `modelyard doctor` again"
                                 for path, why in log.failed]
    done = "recovered" if repair else "to recover"
    if json_out:
        emit_json({"database": store.database, "revision": store.revision,
                   "artifacts": store.artifacts, "missing": store.missing,
                   "corrupted": store.corrupted, "uploads_removed": store.uploads_removed,
                   "log_recovered_files": log.recovered_files,
                   "log_recovered_rows": log.recovered_rows,
                   "log_removed": [p for p, _ in log.removed], "log_live": log.live,
                   "problems": problems, "repaired": repair})
    else:
        table("modelyard doctor", ["check", "result"], [
            ("database", store.database),
            ("schema revision", f"{store.revision} (head {store.head})"),
            ("artifacts", f"{store.artifacts} checked, {len(store.missing)} missing, "
                          f"{len(store.corrupted)} corrupted"
                          + ("" if verify else " (presence only)")),
            ("abandoned uploads", f"{store.uploads_removed} removed" if repair else "-"),
            ("prediction log", f"{log.recovered_rows} rows in {log.recovered_files} files "
                               f"{done}; {len(log.removed)} unreadable leftovers "
                               f"{'removed' if repair else 'found'}; {log.live} open by "
                               "running servers"),
        ])
        for line in problems:
            err_console().print(f"problem: {line}", style="red", markup=False)
        if not problems:
            console().print("no problems found", markup=False)
    if problems:
        raise typer.Exit(1)
