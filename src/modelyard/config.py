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

__all__ = ["CONFIG_FILE", "SETTINGS", "Setting", "Settings", "default", "load_settings",
           "read_config_file"]

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


def _setting(default: Any, doc: str) -> Any:
    return dataclasses.field(default=default, metadata={"doc": doc})


@dataclass(frozen=True)
class Settings:
    """The settings in force for one project folder; each field is one setting, declared
    here once with its default and what it does (:data:`SETTINGS` lists them).

    Example:
        >>> s = load_settings("/tmp/proj", db_url="sqlite:////tmp/x.db")
        >>> s.db_url
        'sqlite:////tmp/x.db'
    """

    project_dir: Path
    db_url: str = _setting("",
        "SQLAlchemy URL of the metadata database; empty means SQLite at .modelyard/yard.db in the"
        " project folder")
    artifacts: str = _setting("",
        "fsspec URL or folder of the artifact store; empty means .modelyard/artifacts in the "
        "project folder")
    artifacts_options: str = _setting("",
        "JSON object of fsspec storage options for the artifact store, e.g. "
        '{"endpoint_url": "http://127.0.0.1:9000"}; the AWS_* variables usually suffice')
    metric_flush_interval_s: float = _setting(1.0,
        "how often a run's background writer flushes buffered metrics")
    metric_flush_max_rows: int = _setting(5000,
        "buffered metric values that trigger an early flush")
    run_heartbeat_s: float = _setting(30.0,
        "how often a running run proves it is alive; runs silent for 4 heartbeats on another host"
        " are marked failed")
    gc_grace_s: float = _setting(3600.0,
        "artifacts younger than this are never collected (a writer may not have committed their "
        "metadata yet)")
    allow_pickle: bool = _setting(False,
        "load models stored as plain pickle (only for files you trust)")
    busy_timeout_ms: int = _setting(30_000,
        "how long a SQLite writer waits for another writer before giving up")
    ray_address: str = _setting("",
        "Ray cluster to join (auto, host:6379, ray://host:10001); empty starts a local one "
        "on 127.0.0.1 for the command that needs it")
    serve_host: str = _setting("127.0.0.1",
        "the address `modelyard serve` listens on (0.0.0.0 to accept remote clients)")
    serve_port: int = _setting(8000, "the port `modelyard serve` listens on")
    serve_workers: int = _setting(1, "server processes of `modelyard serve`")
    max_batch_size: int = _setting(64,
        "most rows the server predicts in one call when it gathers concurrent requests")
    max_batch_wait_ms: float = _setting(2.0,
        "longest a request waits for others to join its batch (only while more are known to be on"
        " their way)")
    predict_threads: int = _setting(1,
        "threads one model call may use (OpenMP, BLAS) in the server; 0 leaves the libraries' "
        "default. Batching, not threads inside a call, scales small requests")
    max_body_bytes: int = _setting(1_048_576, "largest prediction request body accepted")
    max_image_pixels: int = _setting(4096 * 3072,
        "largest image (width x height, read from the file's header before decoding) a "
        "prediction request may send; larger files get 413")
    max_rows_per_request: int = _setting(1000, "most records in one prediction request")
    swap_poll_interval_s: float = _setting(2.0,
        "how often the server checks the registry for moved aliases and revoked keys")
    canary_timeout_ms: float = _setting(250.0,
        "a canary request the challenger has not answered in this time is answered by the "
        "champion instead (and counted as the challenger's fallback)")
    log_dir: str = _setting("",
        "where the prediction log lives: a folder or an fsspec URL (s3://bucket/predictions); "
        "empty means .modelyard/predictions")
    log_predictions: bool = _setting(True,
        "write every served prediction to the prediction log (what monitoring reads)")
    log_rotate_mb: float = _setting(64.0,
        "a prediction log file is closed and a new one started past this size")
    log_rotate_s: float = _setting(300.0,
        "... or when it is this old; only closed files are visible to readers")
    log_flush_interval_s: float = _setting(0.5,
        "how often the prediction log writer appends what requests queued (sooner once 256 "
        "rows wait); at most this long of answers is lost if the process is killed")
    log_max_queue_rows: int = _setting(1_000_000,
        "rows the prediction log may hold in memory; past it, rows are dropped and counted rather"
        " than slowing requests")
    monitor_window: str = _setting("daily",
        "how `modelyard monitor` cuts the log: hourly, daily or last:N predictions")
    psi_threshold: float = _setting(0.2,
        "a feature (or the predictions) drifted when its PSI is above this")
    psi_min_rows: int = _setting(200,
        "PSI is computed only for windows with at least this many values of a feature")
    ks_pvalue_threshold: float = _setting(0.01,
        "a numeric feature drifted when its KS p-value is below this ...")
    ks_min_statistic: float = _setting(0.1,
        "... and its KS statistic (largest CDF gap) is at least this")
    chi2_pvalue_threshold: float = _setting(0.01,
        "a categorical feature drifted when its chi-squared p-value is below this ...")
    js_threshold: float = _setting(0.1,
        "... and its Jensen-Shannon distance (base 2) is at least this")
    alert_accuracy_drop: float = _setting(0.05,
        "alert when a window's accuracy is this far below the registered one (0.05: 5 points)")
    alert_latency_p99_ms: float = _setting(100.0, "alert when a window's p99 latency is above")
    alert_error_rate: float = _setting(0.01, "alert when a window's error rate is above")
    alert_webhook_url: str = _setting("",
        "where alert incidents are posted as JSON when opened and resolved (empty: none)")
    monitor_min_labelled_rows: int = _setting(30,
        "quality alerts wait for this many labelled predictions in a window")

    @property
    def state_dir(self) -> Path:
        """The folder holding the default SQLite file and artifacts."""
        return self.project_dir / STATE_DIR

    def replace(self, **changes: Any) -> Settings:
        """A copy with some settings changed."""
        return dataclasses.replace(self, **changes)


_PARSERS: dict[str, Callable[[str], Any]] = {"str": str, "int": int, "float": float,
                                              "bool": _bool}
SETTINGS: tuple[Setting, ...] = tuple(
    Setting(f.name, _PARSERS[str(f.type)], f.default, f.metadata["doc"])
    for f in dataclasses.fields(Settings) if "doc" in f.metadata
)
_BY_NAME = {s.name: s for s in SETTINGS}


def default(name: str) -> Any:
    """The declared default of one setting, for parts that need it without a project.

    Example:
        >>> default("psi_threshold")
        0.2
    """
    return _BY_NAME[name].default


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


def read_config_file(project_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``modelyard.toml`` of a project folder as plain data: its settings and its other
    tables (``[loop.<model>]``); empty when there is no file. The one place it is parsed.

    Raises:
        InvalidInput: the file is not valid TOML.
    """
    path = Path(project_dir) / CONFIG_FILE
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
    file_values = read_config_file(root)
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
