"""Settings: precedence flag > env > modelyard.toml > default, and errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelyard.config import load_settings
from modelyard.errors import InvalidInput


def test_defaults_point_into_the_project_folder(tmp_path: Path) -> None:
    s = load_settings(tmp_path, env={})
    assert s.db_url == "" and s.state_dir == tmp_path.resolve() / ".modelyard"
    assert s.allow_pickle is False


def test_precedence_is_argument_then_env_then_file(tmp_path: Path) -> None:
    (tmp_path / "modelyard.toml").write_text('db_url = "sqlite:///file.db"\ngc_grace_s = 5\n')
    assert load_settings(tmp_path, env={}).db_url == "sqlite:///file.db"
    assert load_settings(tmp_path, env={}).gc_grace_s == 5.0
    env = {"MODELYARD_DB_URL": "sqlite:///env.db", "MODELYARD_ALLOW_PICKLE": "yes"}
    from_env = load_settings(tmp_path, env=env)
    assert from_env.db_url == "sqlite:///env.db" and from_env.allow_pickle is True
    assert load_settings(tmp_path, env=env, db_url="sqlite:///arg.db").db_url == "sqlite:///arg.db"


def test_a_bad_value_names_the_setting_and_where_it_came_from(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="'metric_flush_max_rows' from MODELYARD_METRIC"):
        load_settings(tmp_path, env={"MODELYARD_METRIC_FLUSH_MAX_ROWS": "lots"})
    (tmp_path / "modelyard.toml").write_text("allow_pickle = 3\n")
    with pytest.raises(InvalidInput, match=r"allow_pickle.*modelyard\.toml.*true or false"):
        load_settings(tmp_path, env={})


def test_unknown_keys_and_broken_toml_are_clear_errors(tmp_path: Path) -> None:
    (tmp_path / "modelyard.toml").write_text("db_ulr = 'x'\n")
    with pytest.raises(InvalidInput, match="unknown setting 'db_ulr'"):
        load_settings(tmp_path, env={})
    (tmp_path / "modelyard.toml").write_text("db_url = \n")
    with pytest.raises(InvalidInput, match="not valid TOML"):
        load_settings(tmp_path, env={})
