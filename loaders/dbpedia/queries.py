"""SPARQL templates for DBpedia linking and facts.

Placeholders in ``{braces}`` are filled only with text built by :func:`~loaders.dbpedia.sparql.sparql_literal`
/ :func:`~loaders.dbpedia.sparql.sparql_iri` or with integers, never with raw titles. The queries run
unchanged on dbpedia.org and on a Virtuoso mirror (``bif:contains`` is Virtuoso's free-text search,
available on both).
"""

from __future__ import annotations

PREFIXES = """PREFIX rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX dbo: <http://dbpedia.org/ontology/>
PREFIX dct: <http://purl.org/dc/terms/>
"""

#: Candidates by exact label (or the label of a redirect page), many items per request.
#: ``{rows}``: ``"label"@en`` literals; ``{type}``: the class IRI; ``{people}``: the IRI of the
#: property naming the item's maker (dbo:director, dbo:author) for the people check. The answer names
#: the ``?lookup`` label, mapped back to items by the caller: a one-variable VALUES, because Virtuoso
#: 7.2 plans ``VALUES (?key ?lookup)`` pairs as a scan (seconds, and rows lost) instead of index lookups.
LABEL_CANDIDATES = PREFIXES + """SELECT ?lookup ?res ?label (SAMPLE(?head) AS ?abstract)
       (GROUP_CONCAT(DISTINCT ?pname; separator="|") AS ?people)
WHERE {{
  VALUES ?lookup {{
{rows}
  }}
  {{ ?res rdfs:label ?lookup }} UNION {{ ?redirect rdfs:label ?lookup . ?redirect dbo:wikiPageRedirects ?res }}
  ?res rdf:type {type} .
  ?res rdfs:label ?label .
  FILTER (lang(?label) = "en")
  OPTIONAL {{ ?res dbo:abstract ?abs . FILTER (lang(?abs) = "en") BIND (SUBSTR(STR(?abs), 1, 400) AS ?head) }}
  OPTIONAL {{ ?res {people} ?p . ?p rdfs:label ?pname . FILTER (lang(?pname) = "en") }}
}}
GROUP BY ?lookup ?res ?label
"""

#: One branch of :data:`FULLTEXT_CANDIDATES` per item: ``{key}`` int, ``{expr}`` a bif:contains literal.
FULLTEXT_BRANCH = ("  {{ ?res rdfs:label ?label . ?label bif:contains {expr} . ?res rdf:type {type} . "
                   "BIND ({key} AS ?key) }}")

#: Candidates by free-text search on labels, for items the exact labels missed (a few per request).
FULLTEXT_CANDIDATES = PREFIXES + """SELECT ?key ?res ?label (SAMPLE(?head) AS ?abstract)
       (GROUP_CONCAT(DISTINCT ?pname; separator="|") AS ?people)
WHERE {{
{branches}
  FILTER (lang(?label) = "en")
  OPTIONAL {{ ?res dbo:abstract ?abs . FILTER (lang(?abs) = "en") BIND (SUBSTR(STR(?abs), 1, 400) AS ?head) }}
  OPTIONAL {{ ?res {people} ?p . ?p rdfs:label ?pname . FILTER (lang(?pname) = "en") }}
}}
GROUP BY ?key ?res ?label
LIMIT {limit}
"""

#: Object facts of linked resources: ``{values}`` is a list of ``<iri>``; ``{props}`` of property IRIs.
FACTS = PREFIXES + """SELECT ?res ?prop ?obj ?objLabel
WHERE {{
  VALUES ?res {{ {values} }}
  VALUES ?prop {{ {props} }}
  ?res ?prop ?obj .
  FILTER (isIRI(?obj))
  OPTIONAL {{ ?obj rdfs:label ?objLabel . FILTER (lang(?objLabel) = "en") }}
}}
"""

#: English abstracts of linked resources.
ABSTRACTS = PREFIXES + """SELECT ?res (SAMPLE(?abs) AS ?abstract)
WHERE {{
  VALUES ?res {{ {values} }}
  ?res dbo:abstract ?abs .
  FILTER (lang(?abs) = "en")
}}
GROUP BY ?res
"""
