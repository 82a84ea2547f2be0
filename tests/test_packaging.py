"""The wheel installs and runs anywhere: built from the source tree, installed into a fresh virtualenv
outside it, then ``personarec`` runs from another folder against the session's Neo4j.

The source keeps the top-level folders ``cypher/``, ``loaders/`` and ``personarec/``; pyproject maps the
first two into the ``personarec`` namespace (``[tool.setuptools]``). These tests check that mapping from
both ends: the package list names every package folder, the wheel holds every source file under its
mapped name and nothing at the top level besides ``personarec/``, and the installed copy (not the
editable one of the source tree) imports every module and reads its Cypher scripts.

The fresh virtualenv does not reinstall torch and the other dependencies (minutes): a ``.pth`` file puts
the dev virtualenv's site-packages on its path. Python does not process ``.pth`` files of a folder added
that way, so the editable install's import hook (``__editable__.personarec-*.pth``) stays inactive there,
which the test checks by asking the fresh interpreter where ``personarec`` comes from.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import time
import tomllib
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from personarec.config import Settings
from personarec.graph import Graph

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
#: source folder -> the package it ships as
MAPPED = {"personarec": "personarec", "loaders": "personarec.loaders", "cypher": "personarec.cypher"}
REQUIRED = [
    "personarec/cypher/schema.cypher",
    "personarec/cypher/browser/personas.grass",
    "personarec/loaders/common.py",
    "personarec/loaders/dbpedia/sparql.py",
    "personarec/server/pom.xml",
    "personarec/spark/pom.xml",
]
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build", "dist")


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _source_files(folder: str) -> set[str]:
    """Files of a top-level source folder as wheel paths (``loaders/x.py`` -> ``personarec/loaders/x.py``)."""
    base = MAPPED[folder].replace(".", "/")
    out = set()
    for path in (ROOT / folder).rglob("*"):
        rel = path.relative_to(ROOT / folder)
        if path.is_file() and "__pycache__" not in rel.parts and path.suffix != ".pyc":
            out.add(f"{base}/{rel.as_posix()}")
    return out


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built without network from a copy of the source (an in-tree build would leave build/)."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    for folder in MAPPED:
        shutil.copytree(ROOT / folder, src / folder, ignore=_IGNORE)
    out = tmp / "dist"
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                           "-q", "-w", str(out), str(src)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    wheels = list(out.glob("personarec-*.whl"))
    assert len(wheels) == 1, wheels
    print(f"wheel built in {time.perf_counter() - t0:.1f} s: {wheels[0].name}")
    return wheels[0]


def test_package_list_names_every_package_folder() -> None:
    tool = _pyproject()["tool"]["setuptools"]
    listed = set(tool["packages"])
    package_dir = tool.get("package-dir", {})
    for folder, package in MAPPED.items():
        if folder != "personarec":
            assert package_dir.get(package) == folder, f"[tool.setuptools.package-dir] must map {package} = {folder}"
    # cypher/ is data only (no __init__.py): it and each of its folders are listed as data packages
    found = {package for folder, package in MAPPED.items() if folder == "cypher"}
    found |= {f"personarec.cypher.{d.name}" for d in (ROOT / "cypher").iterdir() if d.is_dir()}
    for folder, package in MAPPED.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder).parts
            found.add(".".join([package, *rel]))
    assert sorted(found - listed) == [], "package folders missing from [tool.setuptools].packages"
    assert sorted(listed - found) == [], "[tool.setuptools].packages names folders that do not exist"


def test_wheel_holds_the_mapped_tree_and_nothing_else(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in REQUIRED:
        assert required in names, f"{required} missing from {wheel.name}"
    queries = {n for n in names if n.startswith("personarec/cypher/queries/") and n.endswith(".cypher")}
    assert queries == {n for n in _source_files("cypher") if n.startswith("personarec/cypher/queries/")}
    assert queries, "no personarec/cypher/queries/*.cypher in the wheel"
    # every Python module and every Cypher script of the source, under its mapped name
    expected = {n for f in MAPPED for n in _source_files(f) if n.endswith((".py", ".cypher"))}
    assert sorted(expected - names) == [], "source files missing from the wheel"
    tops = {n.split("/", 1)[0] for n in names}
    assert tops == {"personarec", f"{wheel.name.split('-')[0]}-{wheel.name.split('-')[1]}.dist-info"}, tops
    assert not any(n.startswith(("loaders/", "cypher/")) for n in names)
    entry_points = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "personarec = personarec.cli:main" in entry_points


@pytest.fixture(scope="module")
def fresh_venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A new virtualenv outside the source tree with the wheel installed; dependencies from the dev venv."""
    venv = tmp_path_factory.mktemp("fresh") / "venv"
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    deps = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    (site / "_personarec_test_deps.pth").write_text("".join(f"{p}\n" for p in deps))
    proc = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
                           "--no-index", str(wheel)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    print(f"fresh venv with the wheel installed in {time.perf_counter() - t0:.1f} s")
    yield venv


def _env(**extra: str) -> dict[str, str]:
    """Our environment without anything that would point Python or personarec at the source tree."""
    drop = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PERSONAREC_", "NEO4J_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", **extra)
    return env


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"{' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    return proc


# Run by the fresh interpreter: where personarec comes from, and every module of it imported (a module
# that imports the source tree's top-level `loaders` works in a checkout and fails here).
WHERE = """
import importlib, json, pathlib, sys
import personarec
from personarec.graph.cypher import cypher_dir
root = pathlib.Path(personarec.__file__).parent
failed = {}
for path in sorted(root.rglob("*.py")):
    parts = ["personarec", *path.relative_to(root).with_suffix("").parts]
    name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
    try:
        module = importlib.import_module(name)
        if not pathlib.Path(module.__file__).is_relative_to(root):
            failed[name] = "imported from " + module.__file__
    except Exception as exc:
        failed[name] = f"{type(exc).__name__}: {exc}"
print(json.dumps({"personarec": personarec.__file__, "cypher": str(cypher_dir()), "failed": failed,
                  "path": sys.path}))
"""


def test_installed_wheel_imports_every_module_from_itself(fresh_venv: Path, tmp_path: Path) -> None:
    where = json.loads(_run([str(fresh_venv / "bin" / "python"), "-c", WHERE], tmp_path, _env()).stdout)
    for key in ("personarec", "cypher"):
        assert Path(where[key]).is_relative_to(fresh_venv), (key, where[key], where["path"])
    assert (Path(where["cypher"]) / "queries").is_dir()
    assert where["failed"] == {}, "modules of the installed wheel that do not import (or not from the wheel)"


def test_installed_cli_runs_outside_the_tree(fresh_venv: Path, graph: Graph, neo4j_settings: Settings,
                                             tmp_path: Path) -> None:
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    env = _env()
    exe = str(fresh_venv / "bin" / "personarec")
    assert "Commands:" in _run([exe, "--help"], cwd, env).stdout

    assert neo4j_settings.neo4j.password is not None
    db_env = _env(NEO4J_URI=neo4j_settings.bolt_uri, NEO4J_USER=neo4j_settings.neo4j.user,
                  NEO4J_PASSWORD=neo4j_settings.neo4j.password.get_secret_value(),
                  NEO4J_DATABASE=neo4j_settings.neo4j.database)
    rows = [json.loads(line) for line in _run([exe, "query", "RETURN 1 AS one", "--json"], cwd, db_env)
            .stdout.splitlines() if line.strip()]
    assert rows == [{"one": 1}]
    out = _run([exe, "db", "init"], cwd, db_env).stdout
    assert "schema applied" in out
