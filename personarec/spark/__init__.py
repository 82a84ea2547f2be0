"""Scale-out on Apache Spark with the Neo4j Connector for Apache Spark (issue 12).

``personarec recommend --engine spark`` scores users partition by partition on any Spark master; the
connector reads users and histories from Neo4j (partitioned) and writes ``RECOMMENDED`` edges back.
``personarec load … --engine spark`` (:mod:`personarec.spark.load`) parses, validates and splits source files
in Spark and writes the loader's graph through the connector.
pyspark is an optional extra (``pip install personarec[spark]``): no module here imports it at module
level, so the rest of the package works without it.
"""
