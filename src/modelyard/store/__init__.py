"""The ground floor: metadata database and content-addressed artifacts.

The names are imported on first use (PEP 562), so that what needs only a light part (the
CLI's read-only glance at the runs) does not pay for SQLAlchemy.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._artifacts import ArtifactStore as ArtifactStore
    from ._artifacts import FsspecArtifactStore as FsspecArtifactStore
    from ._artifacts import open_artifact_store as open_artifact_store
    from ._artifacts import sha256_file as sha256_file
    from ._checks import StoreCheck as StoreCheck
    from ._checks import check_store as check_store
    from ._datasets import DatasetRepository as DatasetRepository
    from ._db import Database as Database
    from ._entities import AliasEvent as AliasEvent
    from ._entities import Dataset as Dataset
    from ._entities import DatasetVersion as DatasetVersion
    from ._entities import Metric as Metric
    from ._entities import Model as Model
    from ._entities import ModelVersion as ModelVersion
    from ._entities import Run as Run
    from ._entities import RunArtifact as RunArtifact
    from ._entities import RunInput as RunInput
    from ._feedback import Feedback as Feedback
    from ._feedback import FeedbackRepository as FeedbackRepository
    from ._keys import GRANTS as GRANTS
    from ._keys import ROLES as ROLES
    from ._keys import ApiKey as ApiKey
    from ._keys import KeyRepository as KeyRepository
    from ._loop import Lease as Lease
    from ._loop import LoopEvent as LoopEvent
    from ._loop import LoopRepository as LoopRepository
    from ._loop import LoopState as LoopState
    from ._monitoring import Alert as Alert
    from ._monitoring import LabelColumns as LabelColumns
    from ._monitoring import MonitoringRepository as MonitoringRepository
    from ._monitoring import MonitorWindow as MonitorWindow
    from ._monitoring import StoredProfile as StoredProfile
    from ._names import NAME_PATTERN as NAME_PATTERN
    from ._names import check_name as check_name
    from ._readonly import glance_runs as glance_runs
    from ._registry import ModelRepository as ModelRepository
    from ._rollouts import Rollout as Rollout
    from ._rollouts import RolloutRepository as RolloutRepository
    from ._run_filter import RunFilter as RunFilter
    from ._run_filter import RunPage as RunPage
    from ._run_filter import RunQuery as RunQuery
    from ._run_filter import RunSummary as RunSummary
    from ._run_filter import parse_run_filter as parse_run_filter
    from ._run_queries import RunQueries as RunQueries
    from ._runs import RunRepository as RunRepository
    from ._store import GcReport as GcReport
    from ._store import Store as Store
    from ._store import open_store as open_store

#: where each exported name lives
_HOMES = {
    "Alert": "._monitoring",
    "AliasEvent": "._entities",
    "ApiKey": "._keys",
    "ArtifactStore": "._artifacts",
    "Database": "._db",
    "Dataset": "._entities",
    "DatasetRepository": "._datasets",
    "DatasetVersion": "._entities",
    "Feedback": "._feedback",
    "FeedbackRepository": "._feedback",
    "FsspecArtifactStore": "._artifacts",
    "GRANTS": "._keys",
    "GcReport": "._store",
    "KeyRepository": "._keys",
    "LabelColumns": "._monitoring",
    "Lease": "._loop",
    "LoopEvent": "._loop",
    "LoopRepository": "._loop",
    "LoopState": "._loop",
    "Metric": "._entities",
    "Model": "._entities",
    "ModelRepository": "._registry",
    "ModelVersion": "._entities",
    "MonitorWindow": "._monitoring",
    "MonitoringRepository": "._monitoring",
    "NAME_PATTERN": "._names",
    "ROLES": "._keys",
    "Rollout": "._rollouts",
    "RolloutRepository": "._rollouts",
    "Run": "._entities",
    "RunArtifact": "._entities",
    "RunFilter": "._run_filter",
    "RunInput": "._entities",
    "RunPage": "._run_filter",
    "RunQueries": "._run_queries",
    "RunQuery": "._run_filter",
    "RunRepository": "._runs",
    "RunSummary": "._run_filter",
    "Store": "._store",
    "StoreCheck": "._checks",
    "StoredProfile": "._monitoring",
    "check_name": "._names",
    "check_store": "._checks",
    "glance_runs": "._readonly",
    "open_artifact_store": "._artifacts",
    "open_store": "._store",
    "parse_run_filter": "._run_filter",
    "sha256_file": "._artifacts",
}

__all__ = [
    "GRANTS",
    "NAME_PATTERN",
    "ROLES",
    "Alert",
    "AliasEvent",
    "ApiKey",
    "ArtifactStore",
    "Database",
    "Dataset",
    "DatasetRepository",
    "DatasetVersion",
    "Feedback",
    "FeedbackRepository",
    "FsspecArtifactStore",
    "GcReport",
    "KeyRepository",
    "LabelColumns",
    "Lease",
    "LoopEvent",
    "LoopRepository",
    "LoopState",
    "Metric",
    "Model",
    "ModelRepository",
    "ModelVersion",
    "MonitorWindow",
    "MonitoringRepository",
    "Rollout",
    "RolloutRepository",
    "Run",
    "RunArtifact",
    "RunFilter",
    "RunInput",
    "RunPage",
    "RunQueries",
    "RunQuery",
    "RunRepository",
    "RunSummary",
    "Store",
    "StoreCheck",
    "StoredProfile",
    "check_name",
    "check_store",
    "glance_runs",
    "open_artifact_store",
    "open_store",
    "parse_run_filter",
    "sha256_file",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(home, __name__), name)
    globals()[name] = value
    return value
