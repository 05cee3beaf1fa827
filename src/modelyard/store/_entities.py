"""Frozen records that leave the store in place of ORM rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "AliasEvent",
    "Dataset",
    "DatasetVersion",
    "Metric",
    "Model",
    "ModelVersion",
    "Run",
    "RunArtifact",
    "RunInput",
]


@dataclass(frozen=True)
class Dataset:
    """A named dataset; its data lives in versions."""

    id: int
    name: str
    description: str
    created_at: float
    latest_version: int | None = None


@dataclass(frozen=True)
class DatasetVersion:
    """One immutable version of a dataset, addressed by the hash of its content."""

    id: int
    dataset: str
    version: int
    content_hash: str
    blob_sha256: str
    n_rows: int
    n_columns: int
    schema: dict[str, Any]
    source: str
    created_at: float

    @property
    def ref(self) -> str:
        """The reference that names it, ``name@version``."""
        return f"{self.dataset}@{self.version}"


@dataclass(frozen=True)
class Metric:
    """One logged metric value."""

    key: str
    value: float
    step: int
    timestamp: float


@dataclass(frozen=True)
class RunArtifact:
    """A file logged by a run."""

    path: str
    blob_sha256: str
    size: int


@dataclass(frozen=True)
class RunInput:
    """Lineage: a dataset version a run used, and for what."""

    dataset_version_id: int
    dataset_ref: str
    role: str


@dataclass(frozen=True)
class Run:
    """A tracked run with its params, latest metrics, tags and environment."""

    id: str
    name: str
    experiment: str
    parent_id: str | None
    status: str
    start_time: float
    end_time: float | None
    host: str
    pid: int
    git_commit: str
    environment: dict[str, Any]
    failure: str
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    inputs: tuple[RunInput, ...] = ()
    artifacts: tuple[RunArtifact, ...] = ()

    @property
    def duration_s(self) -> float | None:
        """Seconds from start to end, or ``None`` while running."""
        return None if self.end_time is None else self.end_time - self.start_time


@dataclass(frozen=True)
class Model:
    """A registered model name with its aliases."""

    id: int
    name: str
    description: str
    created_at: float
    latest_version: int | None = None
    aliases: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelVersion:
    """One registered version of a model and its lineage."""

    id: int
    model: str
    version: int
    run_id: str | None
    dataset_version_id: int | None
    dataset_ref: str | None
    blob_sha256: str
    format: str
    flavor: str
    signature: dict[str, Any]
    metrics: dict[str, Any]
    extra: dict[str, Any]
    code_version: str
    description: str
    created_at: float
    aliases: tuple[str, ...] = ()

    @property
    def ref(self) -> str:
        """The reference that names it, ``name/versions/N``."""
        return f"{self.model}/versions/{self.version}"


@dataclass(frozen=True)
class AliasEvent:
    """One move of an alias."""

    model: str
    alias: str
    from_version: int | None
    to_version: int | None
    reason: str
    at: float
