"""The dashboard: runs, datasets, models, serving, monitoring and the loop in a browser."""

from ._app import create_ui_app as create_ui_app
from ._app import mount_ui as mount_ui
from ._auth import UiAuth as UiAuth
from ._charts import histogram as histogram
from ._charts import line_chart as line_chart
from ._charts import parallel_coordinates as parallel_coordinates
from ._serving import ServingSampler as ServingSampler

__all__ = [
    "ServingSampler",
    "UiAuth",
    "create_ui_app",
    "histogram",
    "line_chart",
    "mount_ui",
    "parallel_coordinates",
]
