"""Every setting of modelyard, declared once.

Precedence: an explicit argument (a CLI flag) > a ``MODELYARD_*`` environment variable >
``modelyard.toml`` in the project folder > the default. :func:`load_settings` builds one
immutable :class:`Settings` at start; it is passed down explicitly from there.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from .errors import InvalidInput

__all__ = ["SETTINGS", "Setting", "Settings", "default", "load_settings"]

CONFIG_FILE = "modelyard.toml"
STATE_DIR = ".modelyard"


@dataclass(frozen=True)
class Setting:
    """One setting: its name, type, default and what it does."""

    name: str
    type: Callable[[str], Any]
    default: Any
    doc: str

    @property
    def env_var(self) -> str:
        """The environment variable that sets it, e.g. ``MODELYARD_DB_URL``."""
        return "MODELYARD_" + self.name.upper()


def _bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError(value)


SETTINGS: tuple[Setting, ...] = (
    Setting("db_url", str, "", "SQLAlchemy URL of the metadata database; "
            "empty means SQLite at .modelyard/yard.db in the project folder"),
    Setting("artifacts", str, "", "fsspec URL or folder of the artifact store; "
            "empty means .modelyard/artifacts in the project folder"),
    Setting("metric_flush_interval_s", float, 1.0,
            "how often a run's background writer flushes buffered metrics"),
    Setting("metric_flush_max_rows", int, 5000,
            "buffered metric values that trigger an early flush"),
    Setting("run_heartbeat_s", float, 30.0,
            "how often a running run proves it is alive; runs silent for 4 heartbeats "
            "on another host are marked failed"),
    Setting("gc_grace_s", float, 3600.0,
            "artifacts younger than this are never collected (a writer may not have "
            "committed their metadata yet)"),
    Setting("allow_pickle", _bool, False,
            "load models stored as plain pickle (only for files you trust)"),
    Setting("busy_timeout_ms", int, 30000,
            "how long a SQLite writer waits for another writer before giving up"),
    Setting("serve_host", str, "127.0.0.1",
            "the address `modelyard serve` listens on (0.0.0.0 to accept remote clients)"),
    Setting("serve_port", int, 8000, "the port `modelyard serve` listens on"),
    Setting("serve_workers", int, 1, "server processes of `modelyard serve`"),
    Setting("max_batch_size", int, 64,
            "most rows the server predicts in one call when it gathers concurrent requests"),
    Setting("max_batch_wait_ms", float, 2.0,
            "longest a request waits for others to join its batch (only while more are "
            "known to be on their way)"),
    Setting("predict_threads", int, 1,
            "threads one model call may use (OpenMP, BLAS) in the server; 0 leaves the "
            "libraries' default. Batching, not threads inside a call, scales small requests"),
    Setting("max_body_bytes", int, 1_048_576, "largest prediction request body accepted"),
    Setting("max_rows_per_request", int, 1000, "most records in one prediction request"),
    Setting("swap_poll_interval_s", float, 2.0,
            "how often the server checks the registry for moved aliases and revoked keys"),
    Setting("canary_timeout_ms", float, 250.0,
            "a canary request the challenger has not answered in this time is answered by "
            "the champion instead (and counted as the challenger's fallback)"),
    Setting("log_predictions", _bool, True,
            "write every served prediction to the prediction log (what monitoring reads)"),
    Setting("log_rotate_mb", float, 64.0,
            "a prediction log file is closed and a new one started past this size"),
    Setting("log_rotate_s", float, 300.0,
            "... or when it is this old; only closed files are visible to readers"),
    Setting("log_flush_interval_s", float, 0.5,
            "how often the prediction log writer appends what requests queued"),
    Setting("log_max_queue_rows", int, 1_000_000,
            "rows the prediction log may hold in memory; past it, rows are dropped and "
            "counted rather than slowing requests"),
    Setting("monitor_window", str, "daily",
            "how `modelyard monitor` cuts the log: hourly, daily or last:N predictions"),
    Setting("psi_threshold", float, 0.2,
            "a feature (or the predictions) drifted when its PSI is above this"),
    Setting("psi_min_rows", int, 200,
            "PSI is computed only for windows with at least this many values of a feature"),
    Setting("ks_pvalue_threshold", float, 0.01,
            "a numeric feature drifted when its KS p-value is below this ..."),
    Setting("ks_min_statistic", float, 0.1,
            "... and its KS statistic (largest CDF gap) is at least this"),
    Setting("chi2_pvalue_threshold", float, 0.01,
            "a categorical feature drifted when its chi-squared p-value is below this ..."),
    Setting("js_threshold", float, 0.1,
            "... and its Jensen-Shannon distance (base 2) is at least this"),
    Setting("alert_accuracy_drop", float, 0.05,
            "alert when a window's accuracy is this far below the registered one (0.05: 5 "
            "points)"),
    Setting("alert_latency_p99_ms", float, 100.0, "alert when a window's p99 latency is above"),
    Setting("alert_error_rate", float, 0.01, "alert when a window's error rate is above"),
    Setting("alert_webhook_url", str, "",
            "where alert incidents are posted as JSON when opened and resolved (empty: none)"),
    Setting("monitor_min_labelled_rows", int, 30,
            "quality alerts wait for this many labelled predictions in a window"),
)
_BY_NAME = {s.name: s for s in SETTINGS}


def default(name: str) -> Any:
    """The declared default of one setting, for parts that need it without a project.

    Example:
        >>> default("psi_threshold")
        0.2
    """
    return _BY_NAME[name].default


@dataclass(frozen=True)
class Settings:
    """The settings in force for one project folder.

    Example:
        >>> s = load_settings("/tmp/proj", db_url="sqlite:////tmp/x.db")
        >>> s.db_url
        'sqlite:////tmp/x.db'
    """

    project_dir: Path
    db_url: str
    artifacts: str
    metric_flush_interval_s: float
    metric_flush_max_rows: int
    run_heartbeat_s: float
    gc_grace_s: float
    allow_pickle: bool
    busy_timeout_ms: int
    serve_host: str
    serve_port: int
    serve_workers: int
    max_batch_size: int
    max_batch_wait_ms: float
    predict_threads: int
    max_body_bytes: int
    max_rows_per_request: int
    swap_poll_interval_s: float
    canary_timeout_ms: float
    log_predictions: bool
    log_rotate_mb: float
    log_rotate_s: float
    log_flush_interval_s: float
    log_max_queue_rows: int
    monitor_window: str
    psi_threshold: float
    psi_min_rows: int
    ks_pvalue_threshold: float
    ks_min_statistic: float
    chi2_pvalue_threshold: float
    js_threshold: float
    alert_accuracy_drop: float
    alert_latency_p99_ms: float
    alert_error_rate: float
    alert_webhook_url: str
    monitor_min_labelled_rows: int

    @property
    def state_dir(self) -> Path:
        """The folder holding the default SQLite file and artifacts."""
        return self.project_dir / STATE_DIR

    def replace(self, **changes: Any) -> Settings:
        """A copy with some settings changed."""
        return dataclasses.replace(self, **changes)


def _coerce(setting: Setting, value: Any, origin: str) -> Any:
    if isinstance(value, str):
        try:
            return setting.type(value)
        except ValueError:
            pass
    elif not isinstance(value, bool) or setting.type is _bool:
        accepted: dict[Any, tuple[type, ...]] = {float: (int, float), int: (int,), _bool: (bool,)}
        if isinstance(value, accepted.get(setting.type, ())):
            return float(cast(float, value)) if setting.type is float else value
    kind = {str: "a string", int: "an integer", float: "a number", _bool: "true or false"}
    raise InvalidInput(
        f"setting '{setting.name}' from {origin} has value {value!r}: it must be "
        f"{kind.get(setting.type, setting.type.__name__)}"
    )


def _read_toml(project_dir: Path) -> dict[str, Any]:
    path = project_dir / CONFIG_FILE
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"{path} is not valid TOML: {exc}; fix or remove the file") from exc
    section = data.get("modelyard", data)
    return section if isinstance(section, dict) else {}


def load_settings(
    project_dir: str | os.PathLike[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Build the settings for a project folder.

    Args:
        project_dir: the project folder; the current directory by default.
        env: the environment to read ``MODELYARD_*`` variables from (``os.environ``).
        **overrides: explicit values, which win over everything else; ``None`` is ignored.

    Returns:
        The immutable settings.

    Raises:
        InvalidInput: an unknown setting or a value of the wrong type, naming the key.
    """
    root = Path(project_dir if project_dir is not None else os.getcwd()).resolve()
    environ = os.environ if env is None else env
    file_values = _read_toml(root)
    values: dict[str, Any] = {}
    for key in list(overrides) + [k for k in file_values if k != "loop"]:
        if key not in _BY_NAME and not isinstance(file_values.get(key), dict):
            raise InvalidInput(
                f"unknown setting '{key}'; known settings: {', '.join(sorted(_BY_NAME))}"
            )
    for setting in SETTINGS:
        if overrides.get(setting.name) is not None:
            values[setting.name] = _coerce(setting, overrides[setting.name], "an argument")
        elif setting.env_var in environ and environ[setting.env_var] != "":
            values[setting.name] = _coerce(setting, environ[setting.env_var], setting.env_var)
        elif setting.name in file_values:
            values[setting.name] = _coerce(setting, file_values[setting.name], CONFIG_FILE)
        else:
            values[setting.name] = setting.default
    return Settings(project_dir=root, **values)
