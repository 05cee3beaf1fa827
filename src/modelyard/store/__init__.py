"""The ground floor: metadata database and content-addressed artifacts."""

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
    "open_artifact_store",
    "open_store",
    "parse_run_filter",
    "sha256_file",
]
