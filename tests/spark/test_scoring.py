"""The Spark job's partition scorer (personarec.spark.recommend) without Spark or Neo4j: rows arrive as
Arrow batches sorted by (batch, user); every batch is scored whole, by the model set shipped as bytes, with
exactly what ``SessionRecommender.recommend`` gives for the same users together."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import torch

from personarec.jobs import UserBatch
from personarec.session.models import TrainedModels
from personarec.session.popular import MostPopular
from personarec.session.sasrec import SASRec, SASRecConfig, SASRecNet
from personarec.spark.recommend import files_key, model_files, partition_scorer

N_ITEMS = 40
PERSONA_DIM = 4


class _Broadcast:
    """What the scorer reads of a Spark broadcast: ``.value`` (here the bytes themselves, in process)."""

    def __init__(self, value: dict[str, bytes]) -> None:
        self.value = value


def _saved_models(folder: Path) -> TrainedModels:
    """A small two-stage set with initialised weights (scoring does not care what they learned), saved."""
    torch.manual_seed(3)
    cfg = SASRecConfig(seed=3, threads=1, progress=False, hidden=16, layers=1, max_len=10)
    items = [f"t:{i}" for i in range(1, N_ITEMS + 1)]
    sasrec, persona = SASRec(cfg), SASRec(cfg)
    sasrec.net_ = SASRecNet(N_ITEMS, cfg).eval()
    persona.net_ = SASRecNet(N_ITEMS, cfg, user_dim=PERSONA_DIM).eval()
    persona.user_mean_ = np.zeros(PERSONA_DIM, dtype=np.float32)
    persona.user_std_ = np.ones(PERSONA_DIM, dtype=np.float32)
    pop = MostPopular()
    pop.counts_ = np.arange(N_ITEMS + 1, dtype=np.float32)
    models = TrainedModels(item_ids=items, popular=pop, sasrec=sasrec, persona=persona, n_candidates=15)
    models.save(folder)
    return TrainedModels.load(folder)


def test_each_batch_is_scored_whole_as_the_single_process_job_scores_it(tmp_path: Path) -> None:
    models = _saved_models(tmp_path / "m")
    rng = np.random.default_rng(5)
    users = [f"t:u{n:02d}" for n in range(11)]
    hists = [[f"t:{i}" for i in rng.choice(np.arange(1, N_ITEMS + 1), size=int(rng.integers(2, 8)), replace=False)]
             for _ in users]
    personas = [None if n % 4 == 0 else rng.normal(size=PERSONA_DIM).tolist() for n in range(len(users))]
    batch_of = [n // 4 for n in range(len(users))]  # batches of 4, 4, 3
    # the rows of one partition, split into Arrow chunks that cut through a batch
    rows = {"batch": batch_of, "user": users, "persona": personas, "items": hists}
    table = pa.table(rows)
    chunks = [table.slice(0, 3).to_batches()[0], table.slice(3, 6).to_batches()[0], table.slice(9).to_batches()[0]]
    files = model_files(tmp_path / "m")
    threads = torch.get_num_threads()
    try:  # a worker runs torch on one thread (set for its process); the reference runs the same way
        out = list(partition_scorer(_Broadcast(files), files_key(files), 5, "r1", threads=1)(iter(chunks)))
        rec = models.recommender()
        want = [rec.recommend(UserBatch(ids=users[s:s + 4], histories=hists[s:s + 4], personas=personas[s:s + 4]), 5)
                for s in range(0, len(users), 4)]
    finally:
        torch.set_num_threads(threads)

    assert [b.num_rows for b in out] == [4, 4, 3]  # one output batch per scoring batch
    got = pa.Table.from_batches(out).to_pydict()
    assert got["user"] == users and set(got["run"]) == {"r1"}
    # bit for bit: same companions in the batch, same thread count
    assert got["items"] == [row for items, _ in want for row in items]
    assert got["scores"] == [row for _, scores in want for row in scores]
