"""Where the main job's default dataset (MovieLens-100K) comes from.

Resolution order of :func:`resolve_movielens_100k`:

1. an explicit path (a folder holding ``u.data`` and ``u.item``);
2. ``<data dir>/movielens-100k`` where the data dir is ``settings.data_dir`` (``$PERSONAREC_DATA_DIR``
   or ``data_dir`` in the config file); no other folder is searched;
3. the download cache ``<personarec home>/datasets/ml-100k``;
4. only if ``download=True``: the GroupLens zip, checked against its published md5 and size, then
   unpacked into the cache. MovieLens may not be redistributed, so it is fetched on the user's
   machine, never shipped.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import tempfile
import urllib.request
import zipfile
from pathlib import Path

from tqdm import tqdm

from personarec.config import Settings, default_home, load_settings
from personarec.errors import PersonarecError

log = logging.getLogger(__name__)

ML100K_URL = "https://files.grouplens.org/datasets/movielens/ml-100k.zip"
ML100K_MD5 = "0e33842e24a9c977be4e0107933c0723"  # published beside the zip as ml-100k.zip.md5
ML100K_BYTES = 4_924_029
ML100K_FOLDER = "movielens-100k"
_REQUIRED = ("u.data", "u.item")


class DatasetError(PersonarecError):
    """A dataset cannot be found, downloaded or verified."""


def is_ml100k(folder: Path) -> bool:
    return all((folder / name).is_file() for name in _REQUIRED)


def data_dirs(settings: Settings | None = None) -> list[Path]:
    """Candidate data folders, most specific first; ``settings`` default: :func:`load_settings`."""
    if settings is None:
        settings = load_settings()
    dirs: list[Path] = []
    if settings.data_dir is not None:  # PERSONAREC_DATA_DIR, or data_dir in the TOML file
        dirs.append(Path(settings.data_dir))
    return dirs


def cache_dir() -> Path:
    return default_home() / "datasets"


def md5sum(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download_ml100k(target: Path, url: str = ML100K_URL, md5: str = ML100K_MD5, timeout_s: float = 60.0) -> Path:
    """Download the GroupLens zip, verify its md5, unpack ``ml-100k/*`` into ``target``; return ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        archive = Path(tmp) / "ml-100k.zip"
        try:
            with urllib.request.urlopen(url, timeout=timeout_s) as resp, open(archive, "wb") as out:
                total = int(resp.headers.get("Content-Length") or 0) or None
                with tqdm(total=total, unit="B", unit_scale=True, desc="ml-100k.zip") as bar:
                    for chunk in iter(lambda: resp.read(1 << 16), b""):
                        out.write(chunk)
                        bar.update(len(chunk))
        except OSError as exc:
            raise DatasetError(f"cannot download MovieLens-100K from {url} ({exc}); download it by hand and "
                               "pass its folder, or set PERSONAREC_DATA_DIR.") from exc
        got = md5sum(archive)
        if got != md5:
            raise DatasetError(f"the MovieLens-100K download has md5 {got}, expected {md5}; refusing to use it.")
        unpacked = Path(tmp) / "unpacked"
        with zipfile.ZipFile(archive) as zf:
            for member in zf.namelist():
                # flatten ml-100k/<name>; never follow absolute or parent paths from the archive
                name = Path(member).name
                if not name or member.endswith("/"):
                    continue
                unpacked.mkdir(exist_ok=True)
                with zf.open(member) as src, open(unpacked / name, "wb") as dst:
                    shutil.copyfileobj(src, dst)
        if not is_ml100k(unpacked):
            raise DatasetError("the MovieLens-100K archive does not hold u.data and u.item.")
        if target.exists():
            shutil.rmtree(target)
        unpacked.rename(target)
    log.info("MovieLens-100K downloaded into %s", target)
    return target


def resolve_movielens_100k(path: str | Path | None = None, settings: Settings | None = None, *,
                           download: bool = False) -> Path:
    """The folder of MovieLens-100K for the main job (see the module docstring for the order)."""
    if path is not None:
        folder = Path(path)
        if not is_ml100k(folder):
            raise DatasetError(f"{folder} is not a MovieLens-100K folder (u.data and u.item expected).")
        return folder
    for base in data_dirs(settings):
        if is_ml100k(base / ML100K_FOLDER):
            return base / ML100K_FOLDER
    cached = cache_dir() / "ml-100k"
    if is_ml100k(cached):
        return cached
    if not download:
        raise DatasetError("MovieLens-100K not found: pass its folder, set PERSONAREC_DATA_DIR to a folder holding "
                           f"{ML100K_FOLDER}/, or allow the download from GroupLens.")
    return download_ml100k(cached)
