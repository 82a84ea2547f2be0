"""The Neo4j Connector for Apache Spark jar, fetched from Maven Central once (``run.sh setup``).

Spark could resolve it itself (``spark.jars.packages``), but that needs Ivy and the network at every
start; like the Neo4j server jars (``personarec.server.manager``) it is copied by Maven into a cache
folder and handed to Spark as ``spark.jars``.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
import tempfile
from importlib import resources
from pathlib import Path

from personarec.config import Settings, SparkConfig, load_settings
from personarec.errors import PersonarecError

log = logging.getLogger(__name__)

SCALA_BINARY = "2.12"  # what the pinned pyspark 3.5 wheel bundles
_COMPLETE = ".complete"


class SparkSetupError(PersonarecError):
    """The Spark engine cannot start: pyspark or the connector jar is missing."""


def _jar_name(config: SparkConfig) -> str:
    return f"neo4j-connector-apache-spark_{SCALA_BINARY}-{config.connector_version}.jar"


def connector_jar(config: SparkConfig) -> Path:
    """The cached connector jar; :class:`SparkSetupError` when ``run.sh setup`` has not fetched it."""
    jar = Path(config.jar_cache).expanduser().resolve() / config.connector_version / _jar_name(config)
    if not (jar.parent / _COMPLETE).is_file() or not jar.is_file():
        raise SparkSetupError(f"the Neo4j Spark connector jar is not in {jar.parent}: run `bash run.sh setup` "
                              "(or `python -m personarec.spark.jars`) to fetch it from Maven Central.")
    return jar


def install_connector(config: SparkConfig, mvn: str | None = None) -> Path:
    """Fetch the connector jar with Maven into ``config.jar_cache/<version>`` (once); returns the jar."""
    try:
        return connector_jar(config)
    except SparkSetupError:
        pass
    mvn = mvn or shutil.which("mvn")
    if not mvn:
        raise SparkSetupError("`mvn` was not found: install Apache Maven (e.g. `apt-get install maven`) so the "
                              "Neo4j Spark connector can be fetched from Maven Central.")
    dest = Path(config.jar_cache).expanduser().resolve() / config.connector_version
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{config.connector_version}-", dir=dest.parent))
    try:
        pom = staging / "pom.xml"
        pom.write_text(resources.files("personarec.spark").joinpath("pom.xml").read_text())
        cmd = [mvn, "-q", "-B", "-f", str(pom), "package", f"-Dconnector.version={config.connector_version}",
               f"-Dscala.binary={SCALA_BINARY}", f"-Djars.dir={staging / 'jars'}"]
        log.info("fetching the Neo4j Spark connector %s from Maven Central", config.connector_version)
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            errors = [ln for ln in proc.stdout.splitlines() + proc.stderr.splitlines() if "ERROR" in ln]
            raise SparkSetupError("Maven could not fetch the Neo4j Spark connector: "
                                  + (errors[0] if errors else f"mvn exited with {proc.returncode}"))
        (staging / "jars" / _COMPLETE).write_text(config.connector_version + "\n")
        if dest.exists():
            shutil.rmtree(dest)
        (staging / "jars").rename(dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return connector_jar(config)


def main(argv: list[str] | None = None) -> int:
    """``python -m personarec.spark.jars``: fetch the jar (run.sh setup); prints its path."""
    settings: Settings = load_settings()
    try:
        print(install_connector(settings.spark))
    except SparkSetupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
