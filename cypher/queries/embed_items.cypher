// One page of items with everything their embedding text is built from (personarec.embed).
// Keyset pagination by id; $dataset = null reads every dataset. Lists are sorted again in Python
// so the text (and hence its hash) does not depend on storage order.
// Parameters: $dataset (string or null), $after (id to start after, '' for the first page), $limit.
MATCH (i:Item)
WHERE ($dataset IS NULL OR i.dataset = $dataset) AND i.id > $after
WITH i ORDER BY i.id LIMIT $limit
RETURN i.id AS id, i.kind AS kind, i.title AS title, i.year AS year,
       i.description AS description, i.abstract AS abstract,
       COLLECT { MATCH (i)-[:IN_CATEGORY]->(c:Category) RETURN c.name } AS categories,
       COLLECT { MATCH (i)-[:HAS_GENRE]->(g:Genre) RETURN g.name } AS genres,
       COLLECT { MATCH (i)-[:BY_BRAND]->(b:Brand) RETURN b.name } AS brands,
       COLLECT { MATCH (i)-[:BY_AUTHOR]->(p:Person) RETURN p.name } AS authors,
       COLLECT { MATCH (i)-[r:DIRECTED_BY|STARRING|WRITTEN_BY|PRODUCED_BY|AUTHORED_BY|PUBLISHED_BY|IN_SERIES|HAS_SUBJECT|DBPEDIA_GENRE|DISTRIBUTED_BY|CINEMATOGRAPHY_BY]->(e:Entity)
                 RETURN {rel: type(r), label: coalesce(e.label, e.uri)} } AS facts,
       i.embedding_hash AS embedding_hash, i.embedding IS NOT NULL AS has_embedding;
