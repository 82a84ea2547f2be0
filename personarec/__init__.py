"""personarec: persona-driven session-based recommendation over a heterogeneous knowledge graph in Neo4j.

Implements Khatri, Gupta & Thapa (2026), "Leveraging LLMs and Heterogeneous Knowledge Graphs for
Persona-Driven Session-Based Recommendation" (arXiv 2604.06928). Stages, in data-flow order:
``loaders`` -> ``cypher/`` -> Neo4j (``personarec.graph``) -> ``personarec.embed`` ->
``personarec.persona`` -> ``personarec.session`` -> ``personarec.jobs`` / ``personarec.eval``.
"""

__version__ = "0.1.0"
