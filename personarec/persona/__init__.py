"""User personas: HDGI (Ren et al. 2019, arXiv 1911.08538) on the knowledge graph, written back to Neo4j.

Entry points: :func:`train_personas` (train + atomic write-back) and :func:`infer_persona` (cold start
for anonymous sessions).
"""

from personarec.persona.infer import PersonaEncoder, infer_persona, latest_run
from personarec.persona.metapath import Metapath, metapath_adjacency, normalize_adjacency, parse_metapath
from personarec.persona.model import HDGI, MetapathGCN, SemanticAttention
from personarec.persona.train import PersonaError, PersonaRunSummary, train_personas

__all__ = ["HDGI", "Metapath", "MetapathGCN", "PersonaEncoder", "PersonaError", "PersonaRunSummary",
           "SemanticAttention", "infer_persona", "latest_run", "metapath_adjacency", "normalize_adjacency",
           "parse_metapath", "train_personas"]
