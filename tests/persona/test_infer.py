"""Cold-start inference reads the run's encoder from the LOCAL model store by key and hash, so a store
copied to another place (another machine) still works, and a changed or missing model is one clear error."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from personarec import store
from personarec.config import Settings
from personarec.graph import Graph
from personarec.persona import PersonaEncoder, PersonaError, infer_persona, train_personas
from personarec.store import ModelIntegrityError

DATASET = "toy"  # as in conftest.build_kg


def test_cold_start_survives_a_moved_store_and_rejects_a_changed_one(
        graph: Graph, small_kg: dict[str, Any], persona_settings: Settings, tmp_path: Path) -> None:
    summary = train_personas(graph, persona_settings, DATASET, progress=False)
    run = graph.execute("MATCH (r:PersonaRun {id: $id}) RETURN r", {"id": summary.run_id}, read=True)[0]["r"]
    # the run names a relative key plus a hash, nothing of this machine's paths
    assert run["model_key"] == summary.model_key == f"personas/{summary.run_id}"
    assert run["model_sha256"] == summary.model_sha256 and len(summary.model_sha256) == 64
    assert "model_path" not in run and str(tmp_path) not in str(dict(run))
    folder = persona_settings.model_store / summary.model_key
    assert store.exists(folder) and not list(folder.rglob("*.pt"))

    session = [f"{DATASET}:i{k}" for k in np.flatnonzero(small_kg["item_group"] == 0)[:5]]
    before = infer_persona(graph, persona_settings, session)

    # the store moves (another machine, another absolute path): settings point there, inference still works
    moved = tmp_path / "elsewhere" / "store"
    shutil.move(str(persona_settings.model_store), str(moved))
    there = persona_settings.model_copy(update={"model_store": moved})
    np.testing.assert_allclose(infer_persona(graph, there, session), before, atol=1e-6)

    # a store without the model: one sentence naming the key and what to do
    empty = persona_settings.model_copy(update={"model_store": tmp_path / "empty"})
    with pytest.raises(PersonaError, match=f"{summary.model_key}.* is not in the model store"):
        infer_persona(graph, empty, session)

    # one changed byte in the tensors file (of a fresh copy: loaded encoders are cached per store path)
    copy = tmp_path / "copy"
    shutil.copytree(moved, copy)
    tensors = copy / summary.model_key / store.TENSORS
    data = bytearray(tensors.read_bytes())
    data[-1] ^= 0x01
    tensors.write_bytes(bytes(data))
    changed = persona_settings.model_copy(update={"model_store": copy})
    with pytest.raises(ModelIntegrityError, match="does not match its content hash"):
        infer_persona(graph, changed, session)


def test_random_item_features_travel_in_the_store(graph: Graph, small_kg: dict[str, Any],
                                                   persona_settings: Settings) -> None:
    settings = persona_settings.model_copy(update={"persona": persona_settings.persona.model_copy(
        update={"item_features": "random", "epochs": 5})})
    summary = train_personas(graph, settings, DATASET, progress=False, write=False)
    tensors, meta = store.load(settings.model_store, summary.model_key, summary.model_sha256)
    assert tensors["item_x"].shape == (45, settings.embed.dimensions) and len(meta["item_ids"]) == 45
    encoder = PersonaEncoder.load(settings.model_store, summary.model_key, summary.model_sha256)
    x, kept = encoder.item_features_of(graph, [f"{DATASET}:i0", f"{DATASET}:nope"])
    assert kept == [f"{DATASET}:i0"] and torch.equal(x[0], tensors["item_x"][meta["item_ids"].index(kept[0])].float())
    vec = encoder.infer(graph, [f"{DATASET}:i0", f"{DATASET}:i3"])
    assert vec.shape == (settings.persona.dimensions,) and np.isfinite(vec).all()
