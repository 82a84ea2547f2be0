"""The model store: safetensors + plain JSON under relative keys, content-hashed, verified on load, and
no pickle loading anywhere in the package."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import torch

import personarec
from personarec import store
from personarec.errors import PersonarecError
from personarec.store import ModelIntegrityError, ModelNotFoundError, ModelStoreError

REPO = Path(__file__).resolve().parents[1]


def _model() -> tuple[dict[str, torch.Tensor], dict]:
    weight = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    tensors = {"net.weight": weight, "net.tied": weight,  # shared memory, as tied weights are
               "half": torch.ones(5, dtype=torch.float16), "ids": torch.tensor([3, 1, 2])}
    meta = {"ids": ["toy:u1", "toy:u2"], "metapaths": [{"name": "U-I-U", "rels": None}], "dim": 4, "lr": 0.5}
    return tensors, meta


def test_round_trip_under_a_relative_key_survives_moving_the_store(tmp_path: Path) -> None:
    tensors, meta = _model()
    ref = store.save(tmp_path / "a", "personas/run-1", tensors, meta)
    assert ref.key == "personas/run-1" and re.fullmatch(r"[0-9a-f]{64}", ref.sha256)
    folder = tmp_path / "a" / "personas" / "run-1"
    assert sorted(p.name for p in folder.iterdir()) == sorted([store.HASH, store.META, store.TENSORS])
    assert json.loads((folder / store.META).read_text()) == meta  # readable, plain JSON
    shutil.move(str(tmp_path / "a"), str(tmp_path / "b"))  # another absolute path, same key
    got, got_meta = store.load(tmp_path / "b", ref.key, ref.sha256)
    assert got_meta == meta and set(got) == set(tensors)
    for name, t in tensors.items():
        assert got[name].dtype == t.dtype and torch.equal(got[name], t)
    # same content, same hash: the hash does not depend on where or when the model was saved
    assert store.save(tmp_path / "c", "x", tensors, meta).sha256 == ref.sha256
    # saving again under the key replaces the model
    again = store.save(tmp_path / "b", ref.key, {"w": torch.zeros(2)}, {"v": 2})
    assert again.sha256 != ref.sha256 and store.load(tmp_path / "b", ref.key)[1] == {"v": 2}
    assert [p.name for p in (tmp_path / "b" / "personas").iterdir()] == ["run-1"]  # no staging leftovers


@pytest.mark.parametrize("key", ["/abs/model", "../up", "a/../b", "a//b", ".hidden", "a/", "", "a\\b", "~/m"])
def test_keys_must_be_relative_and_plain(tmp_path: Path, key: str) -> None:
    with pytest.raises(ModelStoreError, match="invalid model key"):
        store.save(tmp_path, key, {}, {})
    with pytest.raises(ModelStoreError, match="invalid model key"):
        store.load(tmp_path, key)
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("target", [store.TENSORS, store.META])
def test_a_changed_file_is_one_clear_error(tmp_path: Path, target: str) -> None:
    ref = store.save(tmp_path, "m", *_model())
    path = tmp_path / "m" / target
    data = bytearray(path.read_bytes())
    data[-2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError, match=r"^the stored model in .* does not match its content hash") as exc:
        store.load(tmp_path, "m")
    assert isinstance(exc.value, PersonarecError) and "\n" not in str(exc.value)
    with pytest.raises(ModelIntegrityError):
        store.load(tmp_path, "m", ref.sha256)


def test_a_rewritten_hash_file_still_fails_against_the_expected_hash(tmp_path: Path) -> None:
    ref = store.save(tmp_path, "m", *_model())
    tensors, meta = _model()
    other = store.write(tmp_path / "evil", {**tensors, "half": torch.zeros(5, dtype=torch.float16)}, meta)
    for name in (store.TENSORS, store.META, store.HASH):  # a consistent, but different, model in its place
        shutil.copy(tmp_path / "evil" / name, tmp_path / "m" / name)
    assert store.load(tmp_path, "m", other)[1] == meta
    with pytest.raises(ModelIntegrityError, match="does not match its content hash"):
        store.load(tmp_path, "m", ref.sha256)


def test_missing_model_and_non_json_meta_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match=r"holds no model 'personas/nope'"):
        store.load(tmp_path, "personas/nope")
    with pytest.raises(ModelStoreError, match="plain JSON"):
        store.save(tmp_path, "m", {}, {"path": tmp_path})
    assert not (tmp_path / "m").exists()


def test_the_package_never_unpickles() -> None:
    """Loading a model file must never run code: no torch.load / pickle / allow_pickle in the sources."""
    sources = [*Path(personarec.__file__).parent.rglob("*.py"), *(REPO / "loaders").rglob("*.py")]
    assert len(sources) > 20
    pattern = re.compile(r"weights_only\s*=\s*False|torch\.load\(|torch\.save\(|\bpickle\b\s*\.|"
                         r"import pickle|allow_pickle\s*=\s*True|cloudpickle|joblib\.load")
    offenders = [f"{p.relative_to(REPO)}:{n}" for p in sources
                 for n, line in enumerate(p.read_text().splitlines(), 1) if pattern.search(line)]
    assert offenders == []


def test_writing_into_a_folder_with_other_files_keeps_them(tmp_path: Path) -> None:
    folder = tmp_path / "my-models"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    first = store.write(folder, *_model())
    second = store.write(folder, {"w": torch.ones(3)}, {"v": 2})
    assert (folder / "notes.txt").read_text() == "mine" and first != second
    assert store.read(folder, second)[1] == {"v": 2}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["my-models"]  # no staging leftovers
