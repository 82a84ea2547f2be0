"""Data-parallel persona training (``personarec.persona.distributed``): two gloo processes train the same
weights as one process for the same seed and batch order, for every learner; ``--nproc 2`` and
``torchrun`` write personas through the CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from torch_geometric.data import HeteroData

from personarec.cli import main
from personarec.config import Settings, load_settings, torchrun_env
from personarec.graph import Graph
from personarec.graph.export import KGExport, mean_item_features
from personarec.persona.distributed import Shard, ShardedStep, fit_spawn_each, graph_fingerprint, shard_loss
from personarec.persona.learners import Batch, learner_from_config
from personarec.persona.metapath import PreparedGraph
from personarec.persona.train import embed_all, fit, prepare, read_personas, train_personas

LEARNERS = ["hdgi", "hdgi-struct", "heco"]


def _graph(n_users: int = 81, n_items: int = 40, dim: int = 24, seed: int = 3) -> PreparedGraph:
    """A small in-memory user-item-category graph (three taste groups), prepared as for training."""
    rng = np.random.default_rng(seed)
    pairs = {(u, int(i)) for u in range(n_users)
             for i in rng.choice(np.arange(u % 3, n_items, 3), size=int(rng.integers(3, 8)), replace=False)}
    ui = np.array(sorted(pairs), dtype=np.int64)
    x_item = rng.standard_normal((n_items, dim)).astype(np.float32)
    data = HeteroData()
    data["item"].x = torch.from_numpy(x_item)
    data["user"].x = torch.from_numpy(mean_item_features(ui, x_item, n_users))
    data["user", "interacted", "item"].edge_index = torch.from_numpy(ui.T.copy())
    data["item", "in_category", "category"].edge_index = torch.from_numpy(
        np.stack([np.arange(n_items), np.arange(n_items) % 5]))
    export = KGExport(data, {"user": [f"u{k}" for k in range(n_users)], "item": [f"i{k}" for k in range(n_items)],
                             "category": [f"c{k}" for k in range(5)]},
                      rels={("user", "interacted", "item"): "INTERACTED",
                            ("item", "in_category", "category"): "IN_CATEGORY"})
    return prepare(export, ["auto"], 8, seed)


def _settings(learner: str, **persona: Any) -> Settings:
    base = load_settings(env={})
    # patience above epochs: both runs train every epoch, so the whole trajectory is compared
    values = {"learner": learner, "epochs": 6, "patience": 10, "dimensions": 16, "attention_dim": 8,
              "lr": 0.01, "positives": 4, **persona}
    return base.model_copy(update={"persona": base.persona.model_copy(update=values)})


@pytest.mark.parametrize("learner", LEARNERS)
def test_a_shard_loss_on_one_process_is_the_learners_loss(learner: str) -> None:
    prep, settings = _graph(), _settings(learner)
    torch.manual_seed(0)
    lrn = learner_from_config(settings.persona)
    lrn.setup(prep, 0)
    model = lrn.build(prep.x.shape[1], 16, len(prep.adjs), 8)
    lrn.start_epoch(prep.x.shape[0], torch.Generator().manual_seed(0))
    rows = np.random.default_rng(0).permutation(prep.x.shape[0])[:30]
    batch = Batch.of_rows(prep.adjs, prep.x, rows)
    expected = lrn.loss(model, prep, batch, None)
    got = shard_loss(lrn, model, prep, batch, Shard(rows, 0, 1))
    assert float(got) == pytest.approx(float(expected), rel=1e-6)


def test_shards_are_contiguous_and_cover_the_batch() -> None:
    rows = np.arange(100, 111)
    shards = [Shard(rows, r, 3) for r in range(3)]
    assert np.array_equal(np.concatenate([s.rows for s in shards]), rows)
    assert [s.offset for s in shards] == [0, 4, 8] and {s.total for s in shards} == {11}
    assert len(Shard(np.arange(1), 1, 2).rows) == 0  # a rank may get no user of a short last batch


#: (learner, mode): hdgi both ways, hdgi-struct full batch (split projection, rewired rows), heco mini-batch
CASES = [("hdgi", "mini-batch"), ("hdgi", "full-batch"), ("hdgi-struct", "full-batch"), ("heco", "mini-batch")]


def test_two_gloo_ranks_train_what_one_process_trains() -> None:
    prep = _graph()
    # mini-batch: 81 users in batches of 20 -> the last batch has 1 user, so rank 1 gets an empty shard
    runs = [_settings(learner, **({"full_batch_max": 10, "batch_size": 20, "heco_batch_size": 20}
                                  if mode == "mini-batch" else {}))
            for learner, mode in CASES]
    twos = fit_spawn_each(prep, runs, seed=11, nproc=2, progress=False)  # one pair of processes for all cases
    for (learner, mode), settings, two in zip(CASES, runs, twos, strict=True):
        case = f"{learner} {mode}"
        one = fit(prep, settings, seed=11, progress=False)
        assert two.learner.name == learner
        assert len(two.loss_curve) == len(one.loss_curve) == 6, case
        np.testing.assert_allclose(two.loss_curve, one.loss_curve, rtol=1e-5, err_msg=case)
        assert one.loss_curve[-1] < one.loss_curve[0], case  # it did train
        ref, got = one.model.state_dict(), two.model.state_dict()
        assert ref.keys() == got.keys()
        for name in ref:
            np.testing.assert_allclose(got[name].numpy(), ref[name].numpy(), rtol=1e-5, atol=1e-5,
                                       err_msg=f"{case}: {name}")
        # and the personas (what is written to Neo4j) agree
        p1, b1 = embed_all(one.model, prep, learner=one.learner)
        p2, b2 = embed_all(two.model, prep, learner=two.learner)
        np.testing.assert_allclose(p2, p1, rtol=1e-5, atol=1e-5, err_msg=case)
        np.testing.assert_allclose(b2, b1, rtol=1e-5, err_msg=case)


def test_one_rank_sharded_step_is_the_one_process_fit() -> None:
    from personarec.persona.train import fit_loop

    prep, settings = _graph(), _settings("hdgi", full_batch_max=10, batch_size=32)
    one = fit(prep, settings, seed=5, progress=False)
    same = fit_loop(prep, settings, seed=5, progress=False, on_epoch=None, step=ShardedStep(prep, 0, 1))
    np.testing.assert_allclose(same.loss_curve, one.loss_curve, rtol=1e-6)


def test_fingerprint_tells_graphs_apart() -> None:
    assert graph_fingerprint(_graph()) == graph_fingerprint(_graph())
    assert graph_fingerprint(_graph()) != graph_fingerprint(_graph(seed=4))


def test_torchrun_env_is_read_from_the_launchers_variables() -> None:
    assert torchrun_env({}) is None
    got = torchrun_env({"RANK": "1", "WORLD_SIZE": "4", "LOCAL_RANK": "1", "MASTER_ADDR": "h"})
    assert got is not None and (got.rank, got.world_size, got.local_rank) == (1, 4, 1)


def _env(settings: Settings, tmp_path) -> dict[str, str]:
    return {"NEO4J_URI": settings.bolt_uri, "NEO4J_PASSWORD": settings.neo4j.password.get_secret_value(),
            "PERSONAREC_MODEL_STORE": str(tmp_path / "models"), "PERSONAREC_PERSONA__MAX_NEIGHBORS": "16",
            "PERSONAREC_PERSONA__PATIENCE": "100"}


def test_nproc_2_and_torchrun_write_the_one_process_personas(graph: Graph, small_kg: dict[str, Any],
                                                             neo4j_settings: Settings, tmp_path) -> None:
    env = _env(neo4j_settings, tmp_path)
    settings = load_settings(env=env)
    settings = settings.model_copy(update={"persona": settings.persona.model_copy(update={"epochs": 8})})
    train_personas(graph, settings, "toy", progress=False)
    ids, reference, _ = read_personas(graph, "toy")

    res = CliRunner().invoke(main, ["personas", "train", "--dataset", "toy", "--epochs", "8", "--nproc", "2",
                                    "--json"], env=env)
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output.strip().splitlines()[-1])
    assert summary["users"] == 60 and summary["version"] == 2 and summary["epochs"] == 8
    ids2, personas, versions = read_personas(graph, "toy")
    assert ids2 == ids and versions == {2}
    np.testing.assert_allclose(personas, reference, rtol=1e-4, atol=1e-5)

    # torchrun: every rank exports and prepares, rank 0 alone writes one run
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent))
    assert torchrun is not None
    proc = subprocess.run([torchrun, "--standalone", "--nproc_per_node", "2", "-m",
                           "personarec.persona.distributed", "--dataset", "toy", "--epochs", "8", "--json"],
                          env={**_base_env(), **env, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    assert len(lines) == 1 and json.loads(lines[0])["version"] == 3  # one summary: rank 0's
    ids3, personas, versions = read_personas(graph, "toy")
    assert ids3 == ids and versions == {3}
    np.testing.assert_allclose(personas, reference, rtol=1e-4, atol=1e-5)
    runs = graph.execute("MATCH (r:PersonaRun) RETURN count(r) AS n", read=True)[0]["n"]
    assert runs == 3


def _base_env() -> dict[str, str]:
    """PATH, HOME and the like only, so the child sees no other personarec/torchrun settings of this shell."""
    return {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR", "HF_HUB_OFFLINE")}
