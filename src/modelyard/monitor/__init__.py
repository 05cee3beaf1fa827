"""Monitoring: the prediction log, reference profiles, drift, windows and alerts."""

from ._drift import DataDrift as DataDrift
from ._drift import DriftCounts as DriftCounts
from ._drift import DriftThresholds as DriftThresholds
from ._drift import FeatureDrift as FeatureDrift
from ._drift import compute_drift as compute_drift
from ._drift import compute_psi as compute_psi
from ._log import LogSchema as LogSchema
from ._log import PredictionLog as PredictionLog
from ._log import iter_prediction_log as iter_prediction_log
from ._log import read_prediction_log as read_prediction_log
from ._profile import ReferenceProfile as ReferenceProfile
from ._profile import build_profile as build_profile

__all__ = [
    "DataDrift",
    "DriftCounts",
    "DriftThresholds",
    "FeatureDrift",
    "LogSchema",
    "PredictionLog",
    "ReferenceProfile",
    "build_profile",
    "compute_drift",
    "compute_psi",
    "iter_prediction_log",
    "read_prediction_log",
]
