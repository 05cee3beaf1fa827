"""The loop: triggers, retraining, the champion/challenger gate, rollout and its audit."""

from ._audit import Audit as Audit
from ._cron import Cron as Cron
from ._cron import parse_cron as parse_cron
from ._gate import GateResult as GateResult
from ._gate import bootstrap_pvalue as bootstrap_pvalue
from ._gate import mcnemar_pvalue as mcnemar_pvalue
from ._gate import run_gate as run_gate
from ._lease import LoopLease as LoopLease
from ._loop import Loop as Loop
from ._loop import LoopStatus as LoopStatus
from ._policy import GatePolicy as GatePolicy
from ._policy import Policy as Policy
from ._policy import RetrainPolicy as RetrainPolicy
from ._policy import RolloutPolicy as RolloutPolicy
from ._policy import TriggerPolicy as TriggerPolicy
from ._policy import load_policies as load_policies
from ._policy import policy_from_dict as policy_from_dict
from ._retrain import RemoteTrainer as RemoteTrainer
from ._rollout import RolloutController as RolloutController
from ._rollout import read_stats as read_stats
from ._state import ModelLoop as ModelLoop
from ._triggers import Trigger as Trigger
from ._triggers import check_triggers as check_triggers

__all__ = [
    "Audit",
    "Cron",
    "GatePolicy",
    "GateResult",
    "Loop",
    "LoopLease",
    "LoopStatus",
    "ModelLoop",
    "Policy",
    "RemoteTrainer",
    "RetrainPolicy",
    "RolloutController",
    "RolloutPolicy",
    "Trigger",
    "TriggerPolicy",
    "bootstrap_pvalue",
    "check_triggers",
    "load_policies",
    "mcnemar_pvalue",
    "parse_cron",
    "policy_from_dict",
    "read_stats",
    "run_gate",
]
