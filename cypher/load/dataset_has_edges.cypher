// Whether the graph already holds review relationships of the dataset. None: the load may CREATE them
// (load/*_create.cypher) instead of MERGE. Params: $dataset.
RETURN EXISTS { MATCH (:User {dataset: $dataset})-[:INTERACTED]->() }
    OR EXISTS { MATCH (:Item {dataset: $dataset})-[:CO_INTERACTED]->() } AS has_edges;
