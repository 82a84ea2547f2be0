"""Enrichment of the knowledge graph from outside sources (DBpedia over SPARQL).

Entry point: :func:`personarec.enrich.dbpedia.enrich_dbpedia`.
"""
