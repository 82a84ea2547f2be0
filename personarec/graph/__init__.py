"""The graph stage: connecting to Neo4j and running the package's Cypher scripts.

Entry point: :func:`connect` returns a :class:`Graph`.
"""

from personarec.graph.connection import Graph, connect, quiet_driver_logs, resolve_auth, translate_errors

__all__ = ["Graph", "connect", "quiet_driver_logs", "resolve_auth", "translate_errors"]
