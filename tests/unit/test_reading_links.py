"""A symbolic link named as input that loops or leads nowhere: said as it is, not 'no such file'."""

from __future__ import annotations

from pathlib import Path

import pytest

from syncd.cli import main
from syncd.errors import InputError
from syncd.reading import iter_export_files, read_path


def test_a_link_loop_is_named_as_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a.nbib").symlink_to(tmp_path / "b.nbib")
    (tmp_path / "b.nbib").symlink_to(tmp_path / "a.nbib")
    given = tmp_path / "a.nbib"
    assert list(iter_export_files([given])) == [given]
    with pytest.raises(InputError, match="Too many levels of symbolic links") as err:
        list(read_path(given))
    assert "leads back to itself" in (err.value.hint or "")
    assert main(["convert", str(given)]) == 2
    out = capsys.readouterr().err
    assert "no such file" not in out and "leads back to itself" in out


def test_a_dangling_link_names_where_it_points(tmp_path: Path) -> None:
    link = tmp_path / "export.nbib"
    link.symlink_to(tmp_path / "gone.nbib")
    with pytest.raises(InputError, match=r"a symbolic link to .*gone\.nbib, which does not exist"):
        list(read_path(next(iter_export_files([link]))))


def test_a_path_that_is_not_there_at_all_is_still_no_such_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file or directory"):
        list(iter_export_files([tmp_path / "nothing.nbib"]))
