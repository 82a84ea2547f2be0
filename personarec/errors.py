"""Errors that the CLI turns into one clear line (no traceback)."""


class PersonarecError(Exception):
    """Base class: the message is a complete sentence meant for the user."""


class ConfigError(PersonarecError):
    """The configuration (file, env or flags) is invalid."""


class ServerError(PersonarecError):
    """The managed Neo4j server could not be installed, started or stopped."""


class GraphError(PersonarecError):
    """The Neo4j server is unreachable, refuses the credentials or rejects a query."""
