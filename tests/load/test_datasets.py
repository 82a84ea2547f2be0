"""Default-dataset resolution (personarec.datasets). The download path is exercised with a local
``file://`` archive: no network is used."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import pytest

from personarec import datasets
from personarec.config import load_settings


def _fake_ml100k(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "u.data").write_text("1\t1\t5\t881250949\n")
    (folder / "u.item").write_text("1|A (1995)|01-Jan-1995||x" + "|0" * 19 + "\n")
    return folder


def test_explicit_then_data_dir_then_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("PERSONAREC_DATA_DIR", raising=False)
    explicit = _fake_ml100k(tmp_path / "mine")
    assert datasets.resolve_movielens_100k(explicit) == explicit
    with pytest.raises(datasets.DatasetError, match="not a MovieLens-100K folder"):
        datasets.resolve_movielens_100k(tmp_path)
    data_dir = tmp_path / "data"
    _fake_ml100k(data_dir / "movielens-100k")
    settings = load_settings(env={"PERSONAREC_DATA_DIR": str(data_dir)})
    assert datasets.resolve_movielens_100k(settings=settings) == data_dir / "movielens-100k"
    monkeypatch.setenv("PERSONAREC_DATA_DIR", str(data_dir))
    assert datasets.resolve_movielens_100k() == data_dir / "movielens-100k"
    # without a configured folder no folder outside the configuration is searched: the cache is next
    monkeypatch.delenv("PERSONAREC_DATA_DIR")
    _fake_ml100k(tmp_path / "shared" / "data" / "movielens-100k")  # beside the checkout: never looked at
    (tmp_path / "checkout").mkdir()
    monkeypatch.chdir(tmp_path / "checkout")
    with pytest.raises(datasets.DatasetError, match="MovieLens-100K not found"):
        datasets.resolve_movielens_100k()
    cached = _fake_ml100k(datasets.cache_dir() / "ml-100k")
    assert datasets.resolve_movielens_100k() == cached


def test_missing_without_download_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(datasets, "data_dirs", lambda settings=None: [tmp_path / "nothing"])
    with pytest.raises(datasets.DatasetError, match="MovieLens-100K not found"):
        datasets.resolve_movielens_100k()


def test_download_checks_the_checksum(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("ml-100k/u.data", "1\t1\t5\t881250949\n")
        zf.writestr("ml-100k/u.item", "1|A (1995)|01-Jan-1995||x" + "|0" * 19 + "\n")
        zf.writestr("ml-100k/../../evil", "x")
    archive = tmp_path / "ml-100k.zip"
    archive.write_bytes(buf.getvalue())
    url = archive.as_uri()
    md5 = hashlib.md5(buf.getvalue()).hexdigest()
    with pytest.raises(datasets.DatasetError, match="refusing"):
        datasets.download_ml100k(tmp_path / "cache" / "ml-100k", url=url, md5="0" * 32)
    target = datasets.download_ml100k(tmp_path / "cache" / "ml-100k", url=url, md5=md5)
    assert datasets.is_ml100k(target) and not (tmp_path / "evil").exists()
    with pytest.raises(datasets.DatasetError, match="cannot download"):
        datasets.download_ml100k(tmp_path / "c2", url=(tmp_path / "absent.zip").as_uri(), md5=md5)
