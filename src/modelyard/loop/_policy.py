"""Loop policies: when to retrain a model, how, what a challenger must beat, how it rolls out.

A policy is a ``[loop.<model>]`` table in ``modelyard.toml``::

    [loop.fraud.triggers]
    schedule = "0 3 * * *"              # cron, 5 fields, UTC
    new_data = true                     # a new version of the training dataset
    watch_folder = "incoming/"          # new CSV/Parquet files -> a new dataset version
    watch_table = { db_url = "sqlite:///shop.db", table = "tx", key = "id" }
    drift = true                        # a drift alert opened by the monitor
    accuracy_drop = true                # an accuracy-drop alert (delayed labels)
    monitor_window = "last:2000"        # the loop runs the monitor itself on this window

    [loop.fraud.retrain]
    tune_trials = 0
    executor = "local"                  # or "ray": the retraining runs on a Ray cluster
    spec = { }                          # keys that replace the champion's own spec

    [loop.fraud.gate]
    margin = 0.0
    test = "auto"                       # bootstrap, mcnemar, or auto (mcnemar for accuracy)
    alpha = 0.05
    latency_budget_ms = 50
    floors = { recall = 0.5 }

    [loop.fraud.rollout]
    server_url = "http://127.0.0.1:8000"
    shadow_s = 30
    canary_share = 0.1
    canary_s = 60

or a :class:`Policy` built in Python and given to ``yard.loop.set_policy``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import CONFIG_FILE, read_config_file
from ..errors import InvalidInput
from ._cron import parse_cron

__all__ = ["GatePolicy", "Policy", "RetrainPolicy", "RolloutPolicy", "TriggerPolicy",
           "load_policies", "policy_from_dict"]

TESTS = ("auto", "bootstrap", "mcnemar")


@dataclass(frozen=True)
class TriggerPolicy:
    """What starts a retraining.

    Attributes:
        schedule: a 5-field cron expression in UTC (``""``: none).
        new_data: a new version of the champion's training dataset.
        watch_folder: new CSV or Parquet files here are appended to the dataset as a new
            version (relative to the project folder).
        watch_table: ``{db_url, table, key?}``: new rows (count, or the largest ``key``)
            in a SQL table; the table is ingested as a new version.
        drift: a drift alert (feature or prediction PSI, drifted features).
        accuracy_drop: a quality-drop alert on delayed labels.
        monitor_window: when set (``last:N``, ``hourly``), the loop runs the monitor on
            this window each pass, so alerts open without another process.
        cooldown_s: no new cycle within this long of the last one's end.
    """

    schedule: str = ""
    new_data: bool = False
    watch_folder: str = ""
    watch_table: dict[str, str] = field(default_factory=dict)
    drift: bool = False
    accuracy_drop: bool = False
    monitor_window: str = ""
    cooldown_s: float = 0.0


@dataclass(frozen=True)
class RetrainPolicy:
    """How to retrain: the champion's own spec on the newest data, with ``spec`` keys
    replacing its keys, and optional tuning.

    ``executor = "ray"`` runs the whole retraining as a task on a Ray cluster (the loop
    process keeps its lease and writes the audit trail while it waits); the loop must be
    given a Ray trainer (``modelyard loop start`` gives one).
    """

    spec: dict[str, Any] = field(default_factory=dict)
    tune_trials: int = 0
    executor: str = "local"


@dataclass(frozen=True)
class GatePolicy:
    """What a challenger must pass.

    Attributes:
        metric: the metric compared (the champion's primary metric by default).
        margin: the challenger must be better by more than this.
        test: ``bootstrap`` (paired), ``mcnemar`` (accuracy), ``auto``: McNemar for
            accuracy, else bootstrap.
        alpha: the test's significance level.
        bootstrap_samples: paired resamples for the bootstrap.
        latency_budget_ms: p99 of one-row predictions, measured in-process.
        floors: metric floors on the held-out data (for lower-is-better metrics such as
            ``log_loss`` or ``rmse``, a ceiling).
        holdout_rows: at most this many of the newest data's held-out rows are used.
    """

    metric: str = ""
    margin: float = 0.0
    test: str = "auto"
    alpha: float = 0.05
    bootstrap_samples: int = 500
    latency_budget_ms: float = 100.0
    floors: dict[str, float] = field(default_factory=dict)
    holdout_rows: int = 20_000


@dataclass(frozen=True)
class RolloutPolicy:
    """How a challenger that passed the gate reaches production.

    Attributes:
        server_url: the ``modelyard serve`` process whose ``/v1/models/{name}/stats`` is
            watched; empty means no live rollout: the gate's verdict promotes at once.
        shadow_s: how long the challenger shadows the champion.
        canary_share: the share of requests the challenger answers in canary.
        canary_s: how long the canary must hold before promotion.
        min_requests: challenger requests needed in canary before promotion.
        max_error_rate: roll back when the challenger's error share is above this.
        max_latency_p99_ms: roll back when the challenger's p99 latency is above this
            (judged once it has answered 100 requests in the stage) and also
            ``max_latency_ratio`` times the champion's p99 over the same stage.
        max_latency_ratio: see ``max_latency_p99_ms``. The champion shares the machine:
            when both are slow, the machine is slow, not the challenger, and rolling back
            would not help.
        max_accuracy_drop: roll back when the challenger's accuracy on labelled canary
            predictions is this far below the champion's.
        poll_s: how often the controller reads the stats.
    """

    server_url: str = ""
    shadow_s: float = 30.0
    canary_share: float = 0.1
    canary_s: float = 60.0
    min_requests: int = 20
    max_error_rate: float = 0.01
    max_latency_p99_ms: float = 250.0
    max_latency_ratio: float = 2.0
    max_accuracy_drop: float = 0.05
    poll_s: float = 1.0


@dataclass(frozen=True)
class Policy:
    """The loop policy of one model.

    Example:
        >>> p = Policy("fraud", triggers=TriggerPolicy(drift=True))
        >>> p.triggers.drift
        True
    """

    model: str
    triggers: TriggerPolicy = field(default_factory=TriggerPolicy)
    retrain: RetrainPolicy = field(default_factory=RetrainPolicy)
    gate: GatePolicy = field(default_factory=GatePolicy)
    rollout: RolloutPolicy = field(default_factory=RolloutPolicy)

    def __post_init__(self) -> None:
        _validate(self)

    def to_dict(self) -> dict[str, Any]:
        """The policy as plain data (what ``modelyard loop status`` shows)."""
        return dataclasses.asdict(self)


def _validate(p: Policy) -> None:
    where = f"[loop.{p.model}]"
    if p.triggers.schedule:
        parse_cron(p.triggers.schedule, where=f"{where}.triggers.schedule")
    table = p.triggers.watch_table
    if table and not {"db_url", "table"} <= set(table):
        raise InvalidInput(f"{where}.triggers.watch_table needs db_url and table "
                           "(and optional key); got " + ", ".join(sorted(table)))
    if p.gate.test not in TESTS:
        raise InvalidInput(f"{where}.gate.test is {p.gate.test!r}; use one of "
                           + ", ".join(TESTS))
    checks = [("gate.alpha", p.gate.alpha, 0.0, 1.0),
              ("rollout.canary_share", p.rollout.canary_share, 0.0, 1.0),
              ("rollout.max_error_rate", p.rollout.max_error_rate, 0.0, 1.0)]
    for key, value, low, high in checks:
        if not low < value <= high:
            raise InvalidInput(f"{where}.{key} is {value}; it must be in ({low}, {high}]")
    for key, value in (("gate.margin", p.gate.margin), ("rollout.shadow_s", p.rollout.shadow_s),
                       ("rollout.canary_s", p.rollout.canary_s),
                       ("triggers.cooldown_s", p.triggers.cooldown_s),
                       ("gate.latency_budget_ms", p.gate.latency_budget_ms),
                       ("rollout.max_latency_ratio", p.rollout.max_latency_ratio)):
        if value < 0:
            raise InvalidInput(f"{where}.{key} is {value}; it must not be negative")
    if p.gate.bootstrap_samples < 50:
        raise InvalidInput(f"{where}.gate.bootstrap_samples is {p.gate.bootstrap_samples}; "
                           "use at least 50")
    if p.retrain.executor not in ("local", "ray"):
        raise InvalidInput(f"{where}.retrain.executor is {p.retrain.executor!r}; use 'local' "
                           "(retrain in the loop's process) or 'ray' (on a Ray cluster)")
    if p.retrain.tune_trials < 0:
        raise InvalidInput(f"{where}.retrain.tune_trials must not be negative")


_SECTIONS: dict[str, type[Any]] = {"triggers": TriggerPolicy, "retrain": RetrainPolicy,
                                   "gate": GatePolicy, "rollout": RolloutPolicy}


def _section(cls: type[Any], raw: Any, where: str) -> Any:
    if not isinstance(raw, dict):
        raise InvalidInput(f"{where} must be a table")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise InvalidInput(f"unknown key{'s' if len(unknown) > 1 else ''} "
                           f"{', '.join(unknown)} in {where}; allowed: "
                           f"{', '.join(sorted(fields))}")
    values: dict[str, Any] = {}
    for key, value in raw.items():
        default = fields[key].default
        if default is dataclasses.MISSING:
            default = fields[key].default_factory()  # type: ignore[operator]
        if isinstance(default, bool):
            ok = isinstance(value, bool)
        elif isinstance(default, int | float):
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            value = type(default)(value) if ok else value
            if ok and isinstance(default, int) and value != raw[key]:
                ok = False
        else:
            ok = isinstance(value, type(default))
        if not ok:
            raise InvalidInput(f"{where}.{key} has value {raw[key]!r}; it must be "
                               f"{type(default).__name__}")
        values[key] = value
    return cls(**values)


def policy_from_dict(model: str, raw: dict[str, Any], *, source: str = "") -> Policy:
    """Build a policy from its table (``triggers``, ``retrain``, ``gate``, ``rollout``).

    Raises:
        InvalidInput: an unknown key or a value of the wrong kind, named with its path.
    """
    where = f"[loop.{model}]" + (f" in {source}" if source else "")
    if not isinstance(raw, dict):
        raise InvalidInput(f"{where} must be a table")
    unknown = sorted(set(raw) - set(_SECTIONS))
    if unknown:
        raise InvalidInput(f"unknown key{'s' if len(unknown) > 1 else ''} "
                           f"{', '.join(unknown)} in {where}; allowed: "
                           f"{', '.join(sorted(_SECTIONS))}")
    parts = {key: _section(cls, raw.get(key, {}), f"[loop.{model}.{key}]")
             for key, cls in _SECTIONS.items()}
    return Policy(model, **parts)


def load_policies(project_dir: str | Path) -> dict[str, Policy]:
    """The policies in ``modelyard.toml`` of a project folder, by model name.

    Raises:
        InvalidInput: the file is not TOML, or a policy is wrong.
    """
    path = Path(project_dir) / CONFIG_FILE
    section = read_config_file(project_dir).get("loop", {})
    if not isinstance(section, dict):
        raise InvalidInput(f"'loop' in {path} must be a table of [loop.<model>] tables")
    return {name: policy_from_dict(name, raw, source=str(path))
            for name, raw in section.items()}
