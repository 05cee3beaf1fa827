"""Ray as the distributed engine: tuning trials in parallel, batch scoring with Ray Data,
loop retrainings on a cluster, serving replicas on Ray Serve. Ray is imported only inside
functions, when asked for."""

from ._cluster import ADDRESS_ENV as ADDRESS_ENV
from ._cluster import ClusterUnavailable as ClusterUnavailable
from ._cluster import RayCluster as RayCluster
from ._executor import RayExecutor as RayExecutor
from ._executor import RayTrainer as RayTrainer
from ._executor import open_executor as open_executor
from ._scoring import BatchScorer as BatchScorer
from ._scoring import ScoreResult as ScoreResult
from ._scoring import score as score
from ._serving import ReplicaFailed as ReplicaFailed
from ._serving import serve_replicas as serve_replicas

__all__ = [
    "ADDRESS_ENV",
    "BatchScorer",
    "ClusterUnavailable",
    "RayCluster",
    "RayExecutor",
    "RayTrainer",
    "ReplicaFailed",
    "ScoreResult",
    "open_executor",
    "score",
    "serve_replicas",
]
