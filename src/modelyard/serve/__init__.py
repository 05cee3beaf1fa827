"""The prediction service: validated, micro-batched, hot-swapped, logged, authenticated."""

from ._app import create_app as create_app
from ._batching import MicroBatcher as MicroBatcher
from ._client import Client as Client
from ._client import Prediction as Prediction
from ._docs import add_offline_docs as add_offline_docs
from ._replica import create_replica_app as create_replica_app
from ._replica import create_shared_folder as create_shared_folder
from ._replica import replica_environment as replica_environment
from ._schemas import InputSchema as InputSchema
from ._server import serve as serve

__all__ = ["Client", "InputSchema", "MicroBatcher", "Prediction", "add_offline_docs", "create_app",
           "create_replica_app", "create_shared_folder", "replica_environment", "serve"]
