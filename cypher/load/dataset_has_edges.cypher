// Whether the graph already holds review relationships of the dataset. None: the load may CREATE them
// (load/*_create.cypher) instead of MERGE. Params: $dataset.
// type(r) instead of a typed pattern: on a fresh database the types do not exist yet, and naming them
// would make the server warn on every first load.
RETURN EXISTS { MATCH (:User {dataset: $dataset})-[r]->() WHERE type(r) = 'INTERACTED' }
    OR EXISTS { MATCH (:Item {dataset: $dataset})-[r]->() WHERE type(r) = 'CO_INTERACTED' } AS has_edges;
