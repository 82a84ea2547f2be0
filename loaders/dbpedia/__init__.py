"""DBpedia over SPARQL: a cached, polite client, entity linking and fact retrieval (issue 3, item 4).

* :mod:`loaders.dbpedia.sparql` — :class:`SparqlClient` (SPARQLWrapper, sqlite cache, retries, rate).
* :mod:`loaders.dbpedia.linking` — :func:`link_items`: items -> DBpedia resources with a confidence.
* :mod:`loaders.dbpedia.facts` — :func:`fetch_facts`: typed facts and abstracts of linked resources.

Writing to Neo4j is :func:`personarec.enrich.dbpedia.enrich_dbpedia`.
"""

from personarec.loaders.dbpedia.linking import ItemRef, Link, link_items
from personarec.loaders.dbpedia.sparql import SparqlClient, SparqlError, sparql_iri, sparql_literal

__all__ = ["ItemRef", "Link", "SparqlClient", "SparqlError", "link_items", "sparql_iri", "sparql_literal"]
