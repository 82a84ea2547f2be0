// The categories, genres, brands, people and DBpedia entities that dominate the persona neighbourhood of
// user $id: features of the train items of the $k closest personas, by how many neighbours reach them.
// Params: $id, $k, $limit.
MATCH (u:User {id: $id})
WHERE u.persona IS NOT NULL
CALL db.index.vector.queryNodes('user_persona', $k * 2 + 1, u.persona) YIELD node, score
WITH u, node, score WHERE node <> u AND node.dataset = u.dataset
ORDER BY score DESC LIMIT $k
MATCH (node)-[r:INTERACTED]->(:Item)-[f:IN_CATEGORY|BY_BRAND|BY_AUTHOR|HAS_GENRE|HAS_ATTRIBUTE|DIRECTED_BY|STARRING|WRITTEN_BY|PRODUCED_BY|AUTHORED_BY|PUBLISHED_BY|IN_SERIES|HAS_SUBJECT|DBPEDIA_GENRE|DISTRIBUTED_BY|CINEMATOGRAPHY_BY]->(x)
WHERE r.split = 'train'
WITH x, type(f) AS via, count(DISTINCT node) AS users, count(*) AS paths
RETURN via, labels(x)[0] AS kind, coalesce(x.label, x.name, x.id, x.uri) AS name, users, paths
ORDER BY users DESC, paths DESC, name
LIMIT $limit;
