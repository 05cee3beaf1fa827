"""Monitoring: the prediction log that serving writes and monitoring reads."""

from ._log import LogSchema as LogSchema
from ._log import PredictionLog as PredictionLog
from ._log import iter_prediction_log as iter_prediction_log
from ._log import read_prediction_log as read_prediction_log

__all__ = ["LogSchema", "PredictionLog", "iter_prediction_log", "read_prediction_log"]
