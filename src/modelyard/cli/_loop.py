"""``modelyard loop ...``: run the loop, see where it stands, read its audit trail."""

from __future__ import annotations

import json
import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer

from ._app import DbOpt, ProjectOpt, app, open_from_cli
from ._render import console, table, when

if TYPE_CHECKING:
    from ..distributed import RayTrainer
    from ..yard import Yard

loop_app = typer.Typer(
    no_args_is_help=True,
    help="Close the loop: retrain on triggers, gate the challenger, roll it out, promote or "
         "roll back, every decision written down (\\[loop.<model>] in modelyard.toml).")
app.add_typer(loop_app, name="loop")


@loop_app.command()
def start(
    interval_s: Annotated[float, typer.Option(
        "--interval-s", help="Seconds between passes (rollouts poll at their poll_s).")] = 5.0,
    once: Annotated[bool, typer.Option("--once", help="One pass, then exit.")] = False,
    lease_ttl_s: Annotated[float, typer.Option(
        "--lease-ttl-s", help="How long a pass holds the loop's lease; another loop "
                              "process takes over this long after this one dies.")] = 30.0,
    max_passes: Annotated[int | None, typer.Option(
        "--max-passes", help="Stop after this many passes.")] = None,
    project: ProjectOpt = None,
    db_url: DbOpt = None,
) -> None:
    """Run the loop until interrupted (SIGINT/SIGTERM end it after the current step)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    with open_from_cli(project, db_url) as yard, _ray_trainer(yard) as ray_trainer:
        from ..loop import Loop

        loop = Loop(yard, lease_ttl_s=lease_ttl_s, trainers={"ray": ray_trainer})
        if not loop.policies:
            console().print("[yellow]no \\[loop.<model>] policy in modelyard.toml; nothing to do")
            raise typer.Exit(1)
        console().print(f"loop for {', '.join(sorted(loop.policies))} "
                        f"(holder {loop.lease.holder})")
        if once:
            acted = loop.run_once()
            loop.lease.release()
            if not acted:
                console().print(f"[yellow]another loop holds the lease "
                                f"({loop.lease.holder_now()}); did nothing")
            return
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        passes = loop.run_forever(interval_s, stop=stop, max_passes=max_passes)
    console().print(f"loop stopped after {passes} passes")


@contextmanager
def _ray_trainer(yard: Yard) -> Iterator[RayTrainer]:
    """The trainer of ``executor = "ray"`` retrainings; Ray starts only if one runs, and a
    local cluster it started stops with the loop."""
    from ..distributed import RayCluster, RayTrainer

    trainer = RayTrainer(yard.settings, RayCluster(yard.settings.ray_address or None))
    try:
        yield trainer
    finally:
        trainer.cluster.close()


@loop_app.command()
def status(project: ProjectOpt = None, db_url: DbOpt = None) -> None:
    """Where each model's loop stands, and who holds the lease."""
    with open_from_cli(project, db_url) as yard:
        found = yard.loop.status()
        holder = yard.loop.lease.holder_now()
    table("loop", ["model", "step", "cycle", "champion", "challenger", "last outcome",
                   "updated", "policy"],
          [(s.model, s.step, s.cycle or "", s.champion, s.challenger,
            s.last.get("outcome") or "", when(s.updated_at), "yes" if s.has_policy else "no")
           for s in found])
    console().print(f"lease: {holder or 'free'}")


@loop_app.command()
def history(
    model: Annotated[str, typer.Argument(help="The model name.")],
    limit: Annotated[int | None, typer.Option(help="Only the newest this many.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON lines.")] = False,
    project: ProjectOpt = None,
    db_url: DbOpt = None,
) -> None:
    """Every trigger, run, gate decision, rollout step, promotion and rollback, with why."""
    with open_from_cli(project, db_url) as yard:
        events = yard.loop.history(model, limit=limit)
    if json_out:
        for e in events:
            typer.echo(json.dumps({"at": e.at, "kind": e.kind, "message": e.message,
                                   "data": e.data}, default=str))
        return
    table(f"loop history of {model}", ["at", "cycle", "event", "reason"],
          [(when(e.at), str(e.data.get("cycle", ""))[:8], e.kind, e.message) for e in events])


@loop_app.command()
def trigger(
    model: Annotated[str, typer.Argument(help="The model name.")],
    reason: Annotated[str, typer.Option(help="Why, for the audit trail.")] = "started by hand",
    project: ProjectOpt = None,
    db_url: DbOpt = None,
) -> None:
    """Start a retraining cycle now; the running loop (or `loop start --once`) carries it."""
    with open_from_cli(project, db_url) as yard:
        started = yard.loop.trigger(model, reason)
    console().print("cycle started" if started else "[yellow]a cycle is already under way")
