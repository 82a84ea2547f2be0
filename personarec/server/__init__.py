"""A managed local Neo4j Community server for machines without Docker.

The server is assembled from Maven Central (``org.neo4j:neo4j`` + Neo4j Browser + APOC core; see
``pom.xml`` beside this file), configured with its own ``neo4j.conf`` (loopback only) and run in the
background by its main class. Entry point: :class:`ManagedNeo4j`.
"""

from personarec.server.manager import ManagedNeo4j, ServerStatus, private_server

__all__ = ["ManagedNeo4j", "ServerStatus", "private_server"]
