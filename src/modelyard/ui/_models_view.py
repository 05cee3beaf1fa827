"""What the data and model pages show: dataset versions with their schema, validation and
users; model versions with aliases, alias history and lineage; and the alias moves
(promote, roll back) an admin makes by clicking.
"""

from __future__ import annotations

import json
from typing import Any

from ..errors import InvalidInput, ModelyardError, NotFound
from ..store import AliasEvent, ModelVersion
from ..yard import Yard

__all__ = ["dataset_detail", "datasets_overview", "model_detail", "models_overview",
           "move_alias", "previous_holder"]

#: validation reads at most this many rows of a version (a page must stay quick)
VALIDATE_MAX_ROWS = 200_000


def datasets_overview(yard: Yard) -> list[dict[str, Any]]:
    """Every dataset with its latest version's size."""
    out = []
    for d in yard.datasets.list():
        latest = yard.datasets.versions(d.name)[-1] if d.latest_version else None
        out.append({"name": d.name, "description": d.description, "created_at": d.created_at,
                    "versions": d.latest_version or 0,
                    "n_rows": latest.n_rows if latest else None,
                    "n_columns": latest.n_columns if latest else None,
                    "updated_at": latest.created_at if latest else d.created_at})
    return out


def dataset_detail(yard: Yard, name: str, version: int | None = None) -> dict[str, Any]:
    """A dataset's versions (rows, columns, hash, runs and models that used each), the
    chosen version's schema, and that version validated against the previous one's schema.

    Raises:
        NotFound: no such dataset or version.
    """
    versions = yard.datasets.versions(name)
    if not versions:
        raise NotFound(f"dataset {name!r} has no versions; ingest one with `modelyard "
                       "ingest FILE --name NAME`")
    numbers = [v.version for v in versions]
    chosen = versions[-1] if version is None else next(
        (v for v in versions if v.version == version), None)
    if chosen is None:
        raise NotFound(f"dataset {name!r} has no version {version}; it has versions "
                       f"{', '.join(map(str, numbers))}")
    rows = []
    for v in reversed(versions):
        rows.append({"version": v, "runs": yard.datasets.runs_using(v.ref),
                     "models": yard.datasets.models_using(v.ref)})
    validation: dict[str, Any] | None = None
    earlier = [v for v in versions if v.version < chosen.version]
    if earlier:
        previous = earlier[-1]
        if chosen.n_rows > VALIDATE_MAX_ROWS:
            validation = {"against": previous.ref, "skipped": (
                f"{chosen.n_rows:,} rows; validate with `modelyard datasets validate`")}
        else:
            try:
                report = yard.datasets.validate(yard.datasets.load(chosen.ref), previous.ref)
                validation = {"against": previous.ref, "ok": report.ok,
                              "n_rows": report.n_rows,
                              "violations": [dict(v) for v in report.violations]}
            except ModelyardError as exc:
                validation = {"against": previous.ref, "skipped": str(exc)}
    return {"name": name, "versions": rows, "chosen": chosen,
            "columns": chosen.schema.get("columns", []), "validation": validation}


def models_overview(yard: Yard) -> list[dict[str, Any]]:
    """Every model with its aliases, latest version and the champion's metrics."""
    out = []
    for m in yard.models.list():
        champion = m.aliases.get("champion")
        metrics: dict[str, Any] = {}
        if champion is not None:
            metrics = yard.models.get(f"{m.name}/versions/{champion}").metrics
        out.append({"name": m.name, "description": m.description, "aliases": m.aliases,
                    "latest_version": m.latest_version, "created_at": m.created_at,
                    "metrics": {k: v for k, v in metrics.items()
                                if isinstance(v, int | float)}})
    return out


def previous_holder(history: list[AliasEvent], alias: str, current: int | None) -> int | None:
    """The version ``alias`` pointed at before its latest move (what a roll back restores)."""
    moves = [e for e in history if e.alias == alias]
    for event in reversed(moves):
        if event.to_version == current and event.from_version not in (None, current):
            return event.from_version
    return None


def _primary(v: ModelVersion) -> str | None:
    lineage = v.extra.get("lineage") if isinstance(v.extra, dict) else None
    if isinstance(lineage, dict) and lineage.get("primary_metric"):
        return str(lineage["primary_metric"])
    return None


def model_detail(yard: Yard, name: str, *, serving: dict[str, Any] | None = None
                 ) -> dict[str, Any]:
    """A model's versions (newest first) with lineage dataset -> run -> version ->
    deployment, its alias history, its rollouts, and what a roll back would restore.

    Args:
        yard: the yard.
        name: the model name.
        serving: versions seen answering traffic, ``{"3": {...}}`` (from the servers'
            metrics), to show as deployments.

    Raises:
        NotFound: no such model.
    """
    model = yard.models.get_model(name)
    versions = list(reversed(yard.models.versions(name)))
    history = yard.models.alias_history(name)
    rollouts = yard.store.rollouts.history(name)
    champion = model.aliases.get("champion")
    keys = sorted({k for v in versions for k, x in v.metrics.items()
                   if isinstance(x, int | float)})
    primary = next((p for p in map(_primary, versions) if p), None)
    rows = []
    for v in versions:
        deployments = [f"{a}" for a in v.aliases]
        deployments += [f"rollout #{r.id}: {r.stage}" for r in rollouts
                        if r.challenger_version == v.version]
        if serving and str(v.version) in serving:
            deployments.append("served (traffic seen by the dashboard)")
        run = None
        if v.run_id:
            try:
                run = yard.runs.get(v.run_id)
            except NotFound:
                run = None
        rows.append({"version": v, "run": run, "deployments": deployments,
                     "metrics": {k: v.metrics.get(k) for k in keys},
                     "signature": json.dumps(v.signature, indent=1)[:4000]})
    return {"model": model, "versions": rows, "metric_keys": keys, "primary": primary,
            "history": list(reversed(history)), "rollouts": rollouts, "champion": champion,
            "rollback_to": previous_holder(history, "champion", champion)}


def move_alias(yard: Yard, name: str, alias: str, version: int, *, reason: str,
               who: str) -> dict[str, Any]:
    """Point ``alias`` of model ``name`` at ``version`` (promote, or roll back), recording
    why and by which key.

    Raises:
        NotFound: no such model or version.
        InvalidInput: an empty alias or reason that is not text.
    """
    if not alias or not isinstance(alias, str):
        raise InvalidInput("name the alias to move, e.g. champion")
    if not isinstance(reason, str) or len(reason) > 500:
        raise InvalidInput("a reason is text of at most 500 characters")
    before = yard.models.get_model(name).aliases.get(alias)
    yard.models.get(f"{name}/versions/{version}")
    note = reason.strip() or (f"moved in the dashboard from v{before}" if before
                              else "set in the dashboard")
    yard.models.alias(name, alias, version, reason=f"{note} (by {who})")
    return {"model": name, "alias": alias, "from_version": before, "to_version": version}
