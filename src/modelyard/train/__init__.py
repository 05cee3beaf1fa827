"""Training: specs, fit, evaluation, cross-validation, tuning with Optuna (in this process or
on an executor it is handed)."""

from ._executor import EXECUTORS as EXECUTORS
from ._executor import Executor as Executor
from ._executor import InProcessExecutor as InProcessExecutor
from ._holdout import held_out as held_out
from ._holdout import held_out_by_user as held_out_by_user
from ._metrics import CLASSIFICATION_METRICS as CLASSIFICATION_METRICS
from ._metrics import REGRESSION_METRICS as REGRESSION_METRICS
from ._metrics import evaluate as evaluate
from ._metrics import lower_is_better as lower_is_better
from ._ranking_spec import RankingSpec as RankingSpec
from ._ranking_spec import ranking_scores as ranking_scores
from ._ranking_spec import relevant_items as relevant_items
from ._ranking_spec import split_by_user as split_by_user
from ._recommend import ImplicitALSRecommender as ImplicitALSRecommender
from ._recommend import PopularityRecommender as PopularityRecommender
from ._recommend import ranking_metrics as ranking_metrics
from ._replay import MetricComparison as MetricComparison
from ._replay import ReplayReport as ReplayReport
from ._replay import replay as replay
from ._result import TrainResult as TrainResult
from ._spec import EstimatorSpec as EstimatorSpec
from ._spec import TrainSpec as TrainSpec
from ._spec import TuneSpec as TuneSpec
from ._spec import load_spec as load_spec
from ._study import study_storage as study_storage
from ._train import train as train
from ._workspace import Workspace as Workspace

__all__ = [
    "CLASSIFICATION_METRICS",
    "EXECUTORS",
    "REGRESSION_METRICS",
    "EstimatorSpec",
    "Executor",
    "ImplicitALSRecommender",
    "InProcessExecutor",
    "MetricComparison",
    "PopularityRecommender",
    "RankingSpec",
    "ReplayReport",
    "TrainResult",
    "TrainSpec",
    "TuneSpec",
    "Workspace",
    "evaluate",
    "held_out",
    "held_out_by_user",
    "load_spec",
    "lower_is_better",
    "ranking_metrics",
    "ranking_scores",
    "relevant_items",
    "replay",
    "split_by_user",
    "study_storage",
    "train",
]
