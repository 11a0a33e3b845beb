"""Issue 8 §5: a FIFO (or any file that is not a regular one) is refused at once, never read
and never waited on, whether named as input or found in a folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from syncd.cli import main
from syncd.errors import InputError
from syncd.reading import is_regular_file, iter_export_files, open_export, read_path

pytestmark = [
    pytest.mark.timeout(20),  # the bug was a hang: fail rather than wait
    pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system"),
]


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "pipe.nbib"
    os.mkfifo(path)
    return path


def test_a_fifo_named_as_input_is_refused_without_blocking(fifo: Path) -> None:
    with pytest.raises(InputError, match=r"pipe\.nbib: is a FIFO \(named pipe\), not an export"):
        list(read_path(fifo))
    with pytest.raises(InputError, match="FIFO"):
        open_export(fifo)
    assert not is_regular_file(fifo)


def test_a_device_is_refused() -> None:
    devnull = Path(os.devnull)
    if not devnull.exists():
        pytest.skip("no null device")
    with pytest.raises(InputError, match="is a device"):
        list(read_path(devnull))


def test_a_fifo_in_a_folder_is_listed_and_refused_and_the_rest_is_read(
    fifo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a.nbib").write_text("PMID- 1\nTI  - One.\n", encoding="utf-8")
    assert list(iter_export_files([tmp_path])) == [tmp_path / "a.nbib", fifo]
    assert is_regular_file(tmp_path / "a.nbib")
    code = main(["convert", "--jsonl", str(tmp_path)])
    out, err = capsys.readouterr()
    assert code == 2
    assert out.count("\n") == 1 and '"title":"One"' in out
    assert f"syncd: error: {fifo}: is a FIFO (named pipe), not an export file" in err
