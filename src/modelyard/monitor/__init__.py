"""Monitoring: the prediction log, reference profiles, drift, windows, alerts, reports."""

from ._alerts import Alerter as Alerter
from ._alerts import AlertEvent as AlertEvent
from ._alerts import AlertRule as AlertRule
from ._alerts import default_rules as default_rules
from ._alerts import parse_rule as parse_rule
from ._alerts import post_webhook as post_webhook
from ._counts import DriftCounts as DriftCounts
from ._counts import compute_drift as compute_drift
from ._drift import DataDrift as DataDrift
from ._drift import DriftThresholds as DriftThresholds
from ._drift import FeatureDrift as FeatureDrift
from ._health import Health as Health
from ._health import ServerCounts as ServerCounts
from ._health import read_server_counts as read_server_counts
from ._log import PredictionLog as PredictionLog
from ._logfiles import LogRepair as LogRepair
from ._logfiles import check_prediction_log as check_prediction_log
from ._logread import iter_prediction_log as iter_prediction_log
from ._logread import read_prediction_log as read_prediction_log
from ._logschema import LogSchema as LogSchema
from ._monitor import Monitor as Monitor
from ._performance import Performance as Performance
from ._profile import ReferenceProfile as ReferenceProfile
from ._profile import build_profile as build_profile
from ._report import MonitorReport as MonitorReport
from ._report import print_report as print_report
from ._results import VersionResult as VersionResult
from ._results import WindowResult as WindowResult
from ._sketch import FeatureSketches as FeatureSketches
from ._statistics import compute_psi as compute_psi
from ._windows import WindowSpec as WindowSpec
from ._windows import parse_window as parse_window

__all__ = [
    "AlertEvent",
    "AlertRule",
    "Alerter",
    "DataDrift",
    "DriftCounts",
    "DriftThresholds",
    "FeatureDrift",
    "FeatureSketches",
    "Health",
    "LogRepair",
    "LogSchema",
    "Monitor",
    "MonitorReport",
    "Performance",
    "PredictionLog",
    "ReferenceProfile",
    "ServerCounts",
    "VersionResult",
    "WindowResult",
    "WindowSpec",
    "build_profile",
    "check_prediction_log",
    "compute_drift",
    "compute_psi",
    "default_rules",
    "iter_prediction_log",
    "parse_rule",
    "parse_window",
    "post_webhook",
    "print_report",
    "read_prediction_log",
    "read_server_counts",
]
