"""The rollout controller: shadow, then canary, then promote; roll back on a breach.

It moves the rollout in the store (``store.rollouts``), which the server follows, and
judges the challenger by the server's ``GET /v1/models/{name}/stats``: its error share and
p99 latency since the stage began, and, where the server reports it, its accuracy on
labelled requests. Each call of :meth:`RolloutController.step` does what is due now and
returns; the stage's start time lives in the store, so a restarted loop carries on.

A promotion moves ``champion`` (the server swaps it in without dropping a request), then
ends the rollout ``promoted``; a breach ends it ``rolled_back`` at once. Both check what is
already done first, so repeating a step after a crash changes nothing twice.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx

from ..errors import InvalidInput
from ..store import Rollout
from ._audit import Audit
from ._policy import Policy, RolloutPolicy
from ._workspace import Workspace

__all__ = ["RolloutController", "VersionCounts", "read_stats"]


@dataclass(frozen=True)
class VersionCounts:
    """One version's counters from the server's stats."""

    requests: int
    errors: int
    p99_ms: float | None
    accuracy: float | None = None
    labelled: int = 0


def read_stats(server_url: str, model: str, *, timeout_s: float = 2.0) -> dict[str, Any] | None:
    """The server's stats of ``model``; ``None`` when it cannot be reached.

    Raises:
        InvalidInput: the server has no stats route (an older ``modelyard serve``).
    """
    url = f"{server_url.rstrip('/')}/v1/models/{model}/stats"
    try:
        response = httpx.get(url, timeout=timeout_s)
    except httpx.HTTPError:
        return None
    if response.status_code == 404 and "stats" not in response.text:
        raise InvalidInput(f"{url} does not exist; the server predates rollouts")
    if response.status_code != 200:
        return None
    data: dict[str, Any] = response.json()
    return data


def _counts(stats: dict[str, Any], version: int) -> VersionCounts | None:
    entry = (stats.get("versions") or {}).get(str(version))
    if not isinstance(entry, dict):
        return None
    latency = entry.get("latency_ms") or {}
    p99 = latency.get("p99")
    accuracy = entry.get("accuracy")
    return VersionCounts(int(entry.get("requests", 0)), int(entry.get("errors", 0)),
                         None if p99 is None else float(p99),
                         None if accuracy is None else float(accuracy),
                         int(entry.get("labelled", 0)))


_LATENCY_SAMPLES = 100  # a p99 of fewer requests is its slowest one, not a trend


def _too_slow(counts: VersionCounts, requests: int, champion: VersionCounts | None,
              p: RolloutPolicy) -> str:
    """Why the challenger's latency breaks the policy, or ``""``.

    Over the budget is not enough: the challenger must also be ``max_latency_ratio`` times
    the champion's p99 over the same stage, since both share the machine.
    """
    if requests < _LATENCY_SAMPLES or counts.p99_ms is None:
        return ""
    if counts.p99_ms <= p.max_latency_p99_ms:
        return ""
    if champion is None or not champion.p99_ms:
        return f"p99 latency {counts.p99_ms:.1f} ms > {p.max_latency_p99_ms:g} ms"
    if counts.p99_ms <= p.max_latency_ratio * champion.p99_ms:
        return ""
    return (f"p99 latency {counts.p99_ms:.1f} ms > {p.max_latency_p99_ms:g} ms and "
            f"{counts.p99_ms / champion.p99_ms:.1f} times the champion's "
            f"{champion.p99_ms:.1f} ms")


class RolloutController:
    """Advance one model's rollout as its policy says.

    Args:
        yard: the yard.
        policy: the model's policy.
        audit: where decisions are written.
        clock: the time source (epoch seconds).
    """

    def __init__(self, ws: Workspace, policy: Policy, audit: Audit,
                 clock: Any = time.time) -> None:
        self._ws = ws
        self._rollouts = ws.store.rollouts
        self._records = ws.store.loop
        self._policy = policy
        self._audit = audit
        self._clock = clock
        self.model = policy.model

    # -- the steps ----------------------------------------------------------------------

    def begin(self, state: dict[str, Any]) -> str:
        """Open the rollout of ``state['challenger']`` (or find it open); returns the step."""
        p, cycle = self._policy.rollout, state["cycle"]
        champion, challenger = int(state["champion"]), int(state["challenger"])
        ended = self._ended(challenger)
        if ended is not None:
            return self._finish_ended(state, ended)
        if not p.server_url:
            self.promote(state, "passed the gate; no server_url in the policy, so promoted "
                                "without a live rollout")
            return "idle"
        rollouts = self._rollouts
        current = rollouts.current(self.model)
        if current is not None and current.challenger_version != challenger:
            rollouts.end(current.id, outcome="rolled_back",
                         reason=f"superseded by loop cycle {cycle} (v{challenger})")
            current = None
        if current is None:
            stage = "shadow" if p.shadow_s > 0 else "canary"
            current = rollouts.start(self.model, champion_version=champion,
                                     challenger_version=challenger, stage=stage,
                                     canary_share=p.canary_share if stage == "canary" else 0.0,
                                     reason=f"loop cycle {cycle}")
        state["rollout_id"] = current.id
        self._audit.record_once(
            self.model, f"rollout.{current.stage}", cycle,
            f"v{challenger} {current.stage} against champion v{champion}"
            + (f" for {p.shadow_s:g} s" if current.stage == "shadow"
               else f" with {p.canary_share:.0%} of requests for {p.canary_s:g} s"),
            challenger=challenger, champion=champion, rollout_id=current.id)
        state["baseline"] = None
        return current.stage

    def step(self, state: dict[str, Any]) -> str:
        """Judge the open rollout now: keep it, advance it, promote or roll back.

        Returns:
            The loop's next step: ``shadow``, ``canary`` or ``idle``.
        """
        challenger = int(state["challenger"])
        current = self._rollouts.current(self.model)
        if current is None or current.challenger_version != challenger:
            ended = self._ended(challenger)
            if ended is not None:
                return self._finish_ended(state, ended)
            return self.begin(state)
        p = self._policy.rollout
        try:
            stats = read_stats(p.server_url, self.model)
        except InvalidInput as exc:
            self.rollback(state, f"cannot watch the rollout: {exc}")
            return "idle"
        counts = self._judge(state, current, stats)
        if isinstance(counts, str):
            self.rollback(state, counts)
            return "idle"
        elapsed = self._clock() - current.stage_started_at
        if current.stage == "shadow":
            if elapsed < p.shadow_s:
                return "shadow"
            rollout = self._rollouts.advance(
                current.id, stage="canary", canary_share=p.canary_share,
                reason=f"shadow held for {elapsed:.0f} s")
            state["baseline"] = None if counts is None else [counts.requests, counts.errors]
            self._audit.record_once(
                self.model, "rollout.canary", state["cycle"],
                f"v{challenger} held in shadow for {elapsed:.0f} s; canary with "
                f"{p.canary_share:.0%} of requests for {p.canary_s:g} s",
                rollout_id=rollout.id, shadow=None if counts is None else counts.__dict__)
            return "canary"
        served = 0 if counts is None else counts.requests - self._base(state)[0]
        if elapsed >= p.canary_s and served >= p.min_requests:
            self.promote(state, f"canary held for {elapsed:.0f} s over {served} requests "
                                f"({self._describe(counts, state)})")
            return "idle"
        return "canary"

    # -- judging ------------------------------------------------------------------------

    def _base(self, state: dict[str, Any]) -> tuple[int, int]:
        base = state.get("baseline") or [0, 0]
        return int(base[0]), int(base[1])

    def _describe(self, counts: VersionCounts | None, state: dict[str, Any]) -> str:
        if counts is None:
            return "no stats"
        requests, errors = (counts.requests - self._base(state)[0],
                            counts.errors - self._base(state)[1])
        p99 = "n/a" if counts.p99_ms is None else f"{counts.p99_ms:.1f} ms"
        return f"{errors} errors in {requests} requests, p99 {p99}"

    def _judge(self, state: dict[str, Any], rollout: Rollout,
               stats: dict[str, Any] | None) -> VersionCounts | str | None:
        """The challenger's counts, or the breach as a reason."""
        if stats is None:
            return None
        routed = stats.get("rollout") or {}
        if isinstance(routed, dict) and routed.get("error"):
            return f"the server could not load v{rollout.challenger_version}: {routed['error']}"
        counts = _counts(stats, rollout.challenger_version)
        if counts is None:
            return None
        p = self._policy.rollout
        base_requests, base_errors = self._base(state)
        requests, errors = counts.requests - base_requests, counts.errors - base_errors
        if requests < 0:  # the server restarted: its counters began again
            state["baseline"], requests, errors = [0, 0], counts.requests, counts.errors
        if requests >= 5 and errors / requests > p.max_error_rate:
            return (f"challenger v{rollout.challenger_version} failed {errors} of {requests} "
                    f"requests in {rollout.stage} ({errors / requests:.1%} > "
                    f"{p.max_error_rate:.1%})")
        champion = _counts(stats, rollout.champion_version)
        slow = _too_slow(counts, requests, champion, p)
        if slow:
            return f"challenger v{rollout.challenger_version} {slow} in {rollout.stage}"
        if (counts.accuracy is not None and champion is not None
                and champion.accuracy is not None and counts.labelled >= 30
                and champion.accuracy - counts.accuracy > p.max_accuracy_drop):
            return (f"challenger v{rollout.challenger_version} accuracy {counts.accuracy:.3f} "
                    f"on {counts.labelled} labelled requests is more than "
                    f"{p.max_accuracy_drop:g} below the champion's {champion.accuracy:.3f}")
        return counts

    # -- endings ------------------------------------------------------------------------

    def _ended(self, challenger: int) -> Rollout | None:
        for rollout in self._rollouts.history(self.model, limit=10):
            if rollout.challenger_version == challenger and not rollout.is_open:
                return rollout
        return None

    def _finish_ended(self, state: dict[str, Any], rollout: Rollout) -> str:
        """A rollout that ended before the state said so (a crash in between)."""
        if rollout.stage == "promoted":
            self.promote(state, rollout.reason)
        else:
            self.rollback(state, rollout.reason)
        return "idle"

    def promote(self, state: dict[str, Any], reason: str) -> None:
        """Move ``champion`` to the challenger and end the rollout ``promoted`` (each only
        if not done yet)."""
        cycle, challenger = state["cycle"], int(state["challenger"])
        models = self._ws.models
        moved = any(e.to_version == challenger and cycle in e.reason
                    for e in models.alias_history(self.model, "champion")[-10:])
        if not moved:
            models.alias(self.model, "champion", challenger,
                         reason=f"loop cycle {cycle}: {reason}")
        if models.get_model(self.model).aliases.get("challenger") == challenger:
            # the challenger is the champion now; the alias waits for the next challenger
            models.remove_alias(self.model, "challenger",
                                reason=f"loop cycle {cycle}: promoted to champion")
        current = self._rollouts.current(self.model)
        if current is not None and current.challenger_version == challenger:
            self._rollouts.end(current.id, outcome="promoted", reason=reason)
        self._audit.record_once(self.model, "promoted", cycle,
                                f"v{challenger} is the champion: {reason}",
                                challenger=challenger, champion=state.get("champion"))
        state["outcome"] = "promoted"

    def rollback(self, state: dict[str, Any], reason: str) -> None:
        """End the rollout ``rolled_back`` at once (if still open); the champion stays."""
        cycle, challenger = state["cycle"], int(state["challenger"])
        current = self._rollouts.current(self.model)
        if current is not None and current.challenger_version == challenger:
            self._rollouts.end(current.id, outcome="rolled_back", reason=reason)
        self._audit.record_once(self.model, "rolled_back", cycle,
                                f"v{challenger} rolled back: {reason}",
                                challenger=challenger, champion=state.get("champion"))
        self._records.describe_version(self.model, challenger,
                                               f"rolled back by the loop: {reason}")
        state["outcome"] = "rolled_back"
