"""Paths inside artifacts cannot escape their folder: names with ``..`` or absolute ones,
symbolic links out of a logged folder, and stored paths altered to lead outside are each
refused with a clear error, and nothing is written outside the download folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

import modelyard
from modelyard.errors import Corrupted, InvalidInput
from modelyard.store import RunArtifact


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "plots"
    (folder / "sub").mkdir(parents=True)
    (folder / "roc.txt").write_text("roc")
    (folder / "sub" / "pr.txt").write_text("pr")
    return folder


def test_names_that_leave_the_run_folder_are_refused(yard: modelyard.Yard,
                                                     tmp_path: Path) -> None:
    file = tmp_path / "f.txt"
    file.write_text("x")
    with yard.run() as run:
        for name in ["../f.txt", "a/../../f.txt", "/etc/f.txt", ".."]:
            with pytest.raises(InvalidInput, match="not a relative path inside the run"):
                run.log_artifact(file, name=name)
        for path in ["../evil", "/abs", "a/../../b", "c:evil", "a\\..\\b", "a//b", "./a"]:
            with pytest.raises(InvalidInput, match="does not stay inside the run's folder"):
                yard.store.runs.add_artifacts(run.id, [RunArtifact(path, "0" * 64, 1)])
        assert yard.store.runs.artifacts(run.id) == []


def test_a_symbolic_link_out_of_a_logged_folder_is_refused(yard: modelyard.Yard,
                                                           tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("not for the store")
    folder = _folder(tmp_path)
    (folder / "inside-link.txt").symlink_to(folder / "roc.txt")  # stays inside: fine
    with yard.run() as run:
        logged = run.log_artifact(folder)
        assert {a.path for a in logged} == {"plots/roc.txt", "plots/sub/pr.txt",
                                            "plots/inside-link.txt"}
        (folder / "leak.txt").symlink_to(secret)
        with pytest.raises(InvalidInput, match=r"symbolic link to .*secret\.txt.*, outside "
                                               r"the folder"):
            run.log_artifact(folder, name="again")
        (folder / "leak.txt").unlink()
        (folder / "sub" / "up").symlink_to(tmp_path)  # a folder link leading outside
        (tmp_path / "other.txt").write_text("other")
        with pytest.raises(InvalidInput, match="outside the folder"):
            run.log_artifact(folder, name="again")
        assert {a.path for a in yard.store.runs.artifacts(run.id)} == {a.path for a in logged}


def test_a_stored_path_altered_to_lead_outside_is_not_downloaded(yard: modelyard.Yard,
                                                                 tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    with yard.run() as run:
        run.log_artifact(folder)
    # someone with access to the database rewrites a path
    with yard.store.db.engine.begin() as conn:
        conn.execute(text("UPDATE run_artifacts SET path = 'plots/../../../escaped.txt' "
                          "WHERE path = 'plots/sub/pr.txt'"))
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(Corrupted, match=r"leads outside .*nothing was written"):
        yard.runs.download_artifact(run.id, "plots", dest)
    assert not (tmp_path / "escaped.txt").exists() and list(dest.iterdir()) == []
    assert (yard.runs.download_artifact(run.id, "plots/roc.txt", dest)).read_text() == "roc"
