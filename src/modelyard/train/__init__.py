"""Training: specs, fit, evaluation, cross-validation, tuning with Optuna."""

from ._metrics import CLASSIFICATION_METRICS as CLASSIFICATION_METRICS
from ._metrics import REGRESSION_METRICS as REGRESSION_METRICS
from ._metrics import evaluate as evaluate
from ._recommend import ImplicitALSRecommender as ImplicitALSRecommender
from ._recommend import PopularityRecommender as PopularityRecommender
from ._recommend import ranking_metrics as ranking_metrics
from ._spec import EstimatorSpec as EstimatorSpec
from ._spec import TrainSpec as TrainSpec
from ._spec import TuneSpec as TuneSpec
from ._spec import load_spec as load_spec
from ._train import TrainResult as TrainResult
from ._train import train as train

__all__ = [
    "CLASSIFICATION_METRICS",
    "REGRESSION_METRICS",
    "EstimatorSpec",
    "ImplicitALSRecommender",
    "PopularityRecommender",
    "TrainResult",
    "TrainSpec",
    "TuneSpec",
    "evaluate",
    "load_spec",
    "ranking_metrics",
    "train",
]
