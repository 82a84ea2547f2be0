"""A SparkSession wired to the Neo4j connector, and the connector options for our Neo4j."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from personarec.config import Settings, under_spark_submit
from personarec.graph.connection import resolve_auth
from personarec.spark.jars import SparkSetupError, connector_jar

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

#: the connector's data source name
NEO4J_FORMAT = "org.neo4j.spark.DataSource"


def spark_session(settings: Settings, master: str | None = None, app_name: str = "personarec") -> SparkSession:
    """The SparkSession to run on: ``master`` (default ``settings.spark.master``) with the connector jar.

    Under ``spark-submit`` the session it started is reused as it is (its ``--master``/``--jars`` win).
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise SparkSetupError("pyspark is not installed: `pip install personarec[spark]` (run.sh setup "
                              "installs it).") from exc
    if under_spark_submit():
        return SparkSession.builder.appName(app_name).getOrCreate()
    cfg = settings.spark
    master = master or cfg.master
    builder = (SparkSession.builder.master(master).appName(app_name)
               .config("spark.jars", str(connector_jar(cfg)))
               .config("spark.driver.memory", cfg.driver_memory)
               .config("spark.ui.enabled", "false")
               .config("spark.sql.shuffle.partitions", str(max(cfg.read_partitions, 2)))
               # a failed task fails the job at once (local masters retry nothing anyway): a crashed run
               # is resumed by rerunning it, like the single-process job
               .config("spark.task.maxFailures", "1"))
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    if master.startswith("local"):
        # local Python workers must run this interpreter (the one with torch and personarec), not pyspark's
        # default `python3` from PATH; other masters take PYSPARK_PYTHON / spark.pyspark.python as usual
        spark.sparkContext.pythonExec = sys.executable
    return spark


def connector_options(settings: Settings) -> dict[str, str]:
    """URL, credentials and database of the configured Neo4j (a cluster or Aura works by URI alike)."""
    user, password = resolve_auth(settings)
    return {"url": settings.bolt_uri, "authentication.type": "basic", "authentication.basic.username": user,
            "authentication.basic.password": password, "database": settings.neo4j.database}


def read_options(settings: Settings, **extra: Any) -> dict[str, str]:
    """Connector options for a partitioned read."""
    return {**connector_options(settings), "partitions": str(settings.spark.read_partitions),
            **{k: str(v) for k, v in extra.items()}}
