"""The champion/challenger gate.

Both versions predict the same held-out rows: the test split of the newest data version,
cut exactly as the challenger's training cut it (so the challenger never saw them). For a
recommender (a ``ranking`` spec) the held-out part is each user's newest interactions of
that data version, and each held-out user is one paired observation (NDCG@k by default). The
challenger passes when it beats the champion on the metric by more than the margin, and a
paired test says so at level ``alpha``:

- McNemar's exact test for accuracy: among the rows where exactly one model is right, are
  the challenger's wins too many to be luck;
- a paired bootstrap otherwise: the same resampled rows score both models; the p-value is
  the share of resamples in which the challenger's advantage is not above the margin.

It must also pass sanity checks: its inputs are a subset of the champion's (clients send
what they sent), one-row predictions are within the latency budget, and no metric is under
its floor.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..errors import InvalidInput
from ..registry import Lineage
from ..train import (
    RankingSpec,
    evaluate,
    held_out,
    held_out_by_user,
    lower_is_better,
    ranking_scores,
    relevant_items,
)
from ._policy import GatePolicy
from ._workspace import Workspace

if TYPE_CHECKING:
    from ..registry import Predictor
    from ..store import ModelVersion

__all__ = ["GateResult", "bootstrap_pvalue", "holdout", "mcnemar_pvalue", "run_gate"]

Array = np.ndarray[Any, Any]


@dataclass(frozen=True)
class GateResult:
    """The gate's verdict and the numbers behind it."""

    passed: bool
    reason: str
    metric: str
    champion_score: float
    challenger_score: float
    p_value: float
    test: str
    n_rows: int
    latency_p99_ms: float
    failures: tuple[str, ...] = ()
    challenger_metrics: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for the audit event."""
        return {"passed": self.passed, "metric": self.metric,
                "champion_score": self.champion_score,
                "challenger_score": self.challenger_score, "p_value": self.p_value,
                "test": self.test, "n_rows": self.n_rows,
                "latency_p99_ms": self.latency_p99_ms, "failures": list(self.failures),
                "challenger_metrics": self.challenger_metrics}


def mcnemar_pvalue(champion_right: Array, challenger_right: Array) -> float:
    """One-sided exact McNemar p-value that the challenger is right more often."""
    from scipy.special import bdtrc

    b = int(np.sum(champion_right & ~challenger_right))
    c = int(np.sum(~champion_right & challenger_right))
    if c == 0:
        return 1.0
    return float(bdtrc(c - 1, b + c, 0.5))


def _auc(y: Array, score: Array) -> float:
    order = np.argsort(score, kind="mergesort")
    ranks = np.empty(len(score))
    ranks[order] = np.arange(1, len(score) + 1)
    # average the ranks of ties so AUC matches scikit-learn's
    _, inverse, counts = np.unique(score, return_inverse=True, return_counts=True)
    if len(counts) < len(score):
        sums = np.bincount(inverse, weights=ranks)
        ranks = (sums / counts)[inverse]
    pos = y.astype(bool)
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _scorer(task: str, metric: str, y: Array, pred: Array, proba: Array | None,
            classes: list[Any] | None) -> Callable[[Array], float]:
    """A function of row indices giving the metric on those rows."""
    if metric == "accuracy":
        right = (pred == y).astype(float)
        return lambda idx: float(right[idx].mean())
    if metric in ("mae", "rmse") and task == "regression":
        err = (y.astype(float) - pred.astype(float))
        if metric == "mae":
            return lambda idx: float(np.abs(err[idx]).mean())
        return lambda idx: float(np.sqrt((err[idx] ** 2).mean()))
    if proba is not None and classes is not None and len(classes) == 2:
        if metric == "roc_auc":
            positive = (y == classes[1]).astype(int)
            score = proba[:, 1]
            return lambda idx: _auc(positive[idx], score[idx])
        if metric == "log_loss":
            col = np.searchsorted(np.asarray(classes), y)
            p_true = np.clip(proba[np.arange(len(y)), col], 1e-15, 1.0)
            losses = -np.log(p_true)
            return lambda idx: float(losses[idx].mean())

    def generic(idx: Array) -> float:
        values, _ = evaluate(task, y[idx], pred[idx], None if proba is None else proba[idx],
                             classes, (metric,))
        return float(values.get(metric, float("nan")))

    return generic


def bootstrap_pvalue(champion: Callable[[Array], float], challenger: Callable[[Array], float],
                     n: int, *, higher_is_better: bool, margin: float, samples: int,
                     seed: int = 0) -> float:
    """Paired bootstrap p-value that the challenger is not better by more than ``margin``."""
    rng = np.random.default_rng(seed)
    sign = 1.0 if higher_is_better else -1.0
    not_better = 0
    for _ in range(samples):
        idx = rng.integers(0, n, n)
        diff = sign * (challenger(idx) - champion(idx))
        if not diff > margin:  # a NaN (one class drawn) counts against the challenger
            not_better += 1
    return (not_better + 1) / (samples + 1)


def holdout(ws: Workspace, challenger: ModelVersion,
            max_rows: int) -> tuple[pd.DataFrame, Lineage]:
    """The held-out rows of the challenger's training data, exactly those its training held
    out (checked against the fingerprint in its lineage), at most ``max_rows`` of them.

    Raises:
        InvalidInput: the version has no training lineage; Conflict: the rows changed.
    """
    lineage = Lineage.of(challenger)
    if not challenger.dataset_ref:
        raise InvalidInput(f"{challenger.ref} has no dataset version in its lineage; the gate "
                           "needs a version registered by `modelyard train`")
    test = held_out(ws.datasets.load(challenger.dataset_ref), lineage, what=challenger.ref)
    if len(test) > max_rows:
        test = test.sample(max_rows, random_state=0)
    return test, lineage


def _latency_p99_ms(predictor: Predictor, rows: pd.DataFrame, calls: int = 40) -> float:
    sample = [rows.iloc[[i % len(rows)]] for i in range(calls + 3)]
    for one in sample[:3]:
        predictor.predict(one)
    times = []
    for one in sample[3:]:
        started = time.perf_counter()
        predictor.predict(one)
        times.append((time.perf_counter() - started) * 1000)
    return float(np.percentile(times, 99))


def _signature_problem(champion: ModelVersion, challenger: ModelVersion) -> str | None:
    old = {c["name"]: c.get("type") for c in champion.signature.get("inputs") or []}
    new = {c["name"]: c.get("type") for c in challenger.signature.get("inputs") or []}
    if not old or not new:
        return None
    missing = sorted(set(new) - set(old))
    if missing:
        return f"it needs inputs the champion's clients do not send: {', '.join(missing)}"
    changed = sorted(k for k in new if new[k] != old[k])
    if changed:
        return "input types changed: " + ", ".join(f"{k} {old[k]} -> {new[k]}" for k in changed)
    return None


def run_gate(ws: Workspace, champion: ModelVersion, challenger: ModelVersion,
             policy: GatePolicy) -> GateResult:
    """Decide whether ``challenger`` may roll out against ``champion``.

    Raises:
        InvalidInput: the versions lack the lineage the gate needs.
    """
    lineage = Lineage.of(challenger)
    if lineage.task == "ranking":
        return _ranking_gate(ws, champion, challenger, lineage, policy)
    rows, _ = holdout(ws, challenger, policy.holdout_rows)
    data_ref = challenger.dataset_ref
    task, target = lineage.task or "classification", lineage.target
    known = Lineage.find(champion)
    metric = (policy.metric or (known.primary_metric if known else "")
              or lineage.primary_metric or "accuracy")
    higher = not lower_is_better(metric)
    y = rows[target].to_numpy()
    scored: list[tuple[Array, Array | None, list[Any] | None, Predictor]] = []
    for version in (champion, challenger):
        predictor = ws.models.load(version)
        features = [c for c in rows.columns if c != target]
        X = rows[features]
        proba = predictor.predict_proba(X) if (task == "classification"
                                               and predictor.has_predict_proba) else None
        pred = predictor.predict(X)
        scored.append((np.asarray(pred), proba, predictor.classes, predictor))
    (p_old, q_old, c_old, _), (p_new, q_new, c_new, new_predictor) = scored
    old_score = _scorer(task, metric, y, p_old, q_old, c_old)
    new_score = _scorer(task, metric, y, p_new, q_new, c_new)
    every = np.arange(len(y))
    s_old, s_new = old_score(every), new_score(every)
    advantage = (s_new - s_old) * (1 if higher else -1)
    test = policy.test
    if test == "auto":
        test = "mcnemar" if metric == "accuracy" else "bootstrap"
    if test == "mcnemar":
        if task != "classification":
            raise InvalidInput("the McNemar gate test needs a classifier; use bootstrap")
        p_value = mcnemar_pvalue(p_old == y, p_new == y)
    else:
        p_value = bootstrap_pvalue(old_score, new_score, len(y), higher_is_better=higher,
                                   margin=policy.margin, samples=policy.bootstrap_samples)
    features = [c for c in rows.columns if c != target]
    metrics, _ = evaluate(task, y, p_new, q_new, c_new)
    asked = tuple(name for name in (metric, *policy.floors) if name not in metrics)
    if asked:  # metrics outside the default set (cost@10, recall_at_fpr@0.01) by name
        metrics.update(evaluate(task, y, p_new, q_new, c_new, asked)[0])
    return _verdict(champion, challenger, policy, metric=metric, scores=(s_old, s_new),
                    advantage=advantage, p_value=p_value, test=test,
                    latency=_latency_p99_ms(new_predictor, rows[features]),
                    metrics={k: float(v) for k, v in metrics.items()},
                    held_out=f"{len(y)} held-out rows of {data_ref}", n=len(y))


def _verdict(champion: ModelVersion, challenger: ModelVersion, policy: GatePolicy, *,
             metric: str, scores: tuple[float, float], advantage: float, p_value: float,
             test: str, latency: float, metrics: dict[str, float], held_out: str,
             n: int) -> GateResult:
    """The checks every gate shares (margin, significance, signature, latency, floors) and
    the verdict with its reason."""
    s_old, s_new = scores
    failures: list[str] = []
    if not advantage > policy.margin:
        failures.append(f"{metric} {s_new:.4f} is not better than the champion's "
                        f"{s_old:.4f} by more than {policy.margin:g}")
    elif not p_value < policy.alpha:
        failures.append(f"{metric} {s_new:.4f} vs {s_old:.4f} is not significant "
                        f"({test} p={p_value:.3g} >= {policy.alpha:g})")
    problem = _signature_problem(champion, challenger)
    if problem:
        failures.append(f"incompatible signature: {problem}")
    if latency > policy.latency_budget_ms:
        failures.append(f"one-row p99 latency {latency:.1f} ms is over the budget of "
                        f"{policy.latency_budget_ms:g} ms")
    for name, floor in sorted(policy.floors.items()):
        value = metrics.get(name)
        if value is None:
            failures.append(f"floor on {name}: the metric is not available")
        elif lower_is_better(name) and value > floor:
            failures.append(f"{name} {value:.4f} is above its ceiling {floor:g}")
        elif not lower_is_better(name) and value < floor:
            failures.append(f"{name} {value:.4f} is under its floor {floor:g}")
    summary = (f"v{challenger.version} {metric} {s_new:.4f} vs champion v{champion.version} "
               f"{s_old:.4f} on {held_out} ({test} p={p_value:.3g})")
    reason = (f"passed: {summary}" if not failures
              else f"rejected: {'; '.join(failures)} [{summary}]")
    return GateResult(passed=not failures, reason=reason, metric=metric,
                      champion_score=s_old, challenger_score=s_new, p_value=p_value,
                      test=test, n_rows=n, latency_p99_ms=latency,
                      failures=tuple(failures), challenger_metrics=metrics)


def _ranking_gate(ws: Workspace, champion: ModelVersion, challenger: ModelVersion,
                  lineage: Lineage, policy: GatePolicy) -> GateResult:
    """The gate for recommenders: both recommend for the held-out users of the challenger's
    data (each user's newest interactions, cut as its training cut them); per-user scores
    are paired in the bootstrap."""
    raw = lineage.ranking
    if not isinstance(raw, Mapping) or not challenger.dataset_ref:
        raise InvalidInput(f"{challenger.ref} lacks its ranking settings or dataset; the gate "
                           "needs a version registered by `modelyard train` with a ranking spec")
    ranking = RankingSpec.parse(dict(raw), "")
    past, future = held_out_by_user(ws.datasets.load(challenger.dataset_ref), lineage, ranking,
                                    what=challenger.ref)
    users, relevant = relevant_items(past, future, ranking, lineage.target)
    if len(users) > policy.holdout_rows:
        keep = np.sort(np.random.default_rng(0).choice(len(users), policy.holdout_rows,
                                                       replace=False))
        users, relevant = users[keep], [relevant[i] for i in keep]
    if len(users) == 0:
        raise InvalidInput(f"no held-out user of {challenger.dataset_ref} liked a new item; "
                           "the gate has nothing to compare on")
    k = ranking.k
    metric = policy.metric or lineage.primary_metric or f"ndcg@{k}"
    per_user: list[dict[str, Array]] = []
    predictors: list[Predictor] = []
    for version in (champion, challenger):
        predictor = ws.models.load(version)
        predictors.append(predictor)
        frame_in = pd.DataFrame({ranking.user: users})
        per_user.append(ranking_scores(np.asarray(predictor.predict(frame_in)), relevant, k))
    if metric not in per_user[1]:
        raise InvalidInput(f"the gate metric {metric!r} is not one of "
                           f"{', '.join(per_user[1])} for this recommender")
    old, new = per_user[0][metric], per_user[1][metric]
    s_old, s_new = float(old.mean()), float(new.mean())
    p_value = bootstrap_pvalue(lambda idx: float(old[idx].mean()),
                               lambda idx: float(new[idx].mean()), len(users),
                               higher_is_better=True, margin=policy.margin,
                               samples=policy.bootstrap_samples)
    latency = _latency_p99_ms(predictors[1], pd.DataFrame({ranking.user: users[:50]}))
    return _verdict(champion, challenger, policy, metric=metric, scores=(s_old, s_new),
                    advantage=s_new - s_old, p_value=p_value, test="bootstrap",
                    latency=latency,
                    metrics={name: float(values.mean()) for name, values in per_user[1].items()},
                    held_out=f"{len(users)} held-out users of {challenger.dataset_ref}",
                    n=len(users))
