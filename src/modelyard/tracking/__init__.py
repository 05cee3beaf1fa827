"""Tracked runs: params, metrics (batched, written in the background), tags, artifacts,
dataset lineage, environment capture, and scikit-learn autologging."""

from ._active import ActiveRun as ActiveRun
from ._active import active_run as active_run
from ._autolog import autolog as autolog
from ._environment import capture_environment as capture_environment
from ._fluent import log_metric as log_metric
from ._fluent import log_metrics as log_metrics
from ._fluent import log_param as log_param
from ._fluent import log_params as log_params
from ._fluent import set_tag as set_tag
from ._runs import Runs as Runs

__all__ = [
    "ActiveRun",
    "Runs",
    "active_run",
    "autolog",
    "capture_environment",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "set_tag",
]
