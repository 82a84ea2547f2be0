// DBpedia facts hung on the item (README graph model): (:Item)-[:<REL>]->(:Entity {uri, label}).
// Relationship types cannot be parameters, so each allowed type has its own FOREACH branch; no APOC needed.
// $rows: [{item, rel, uri, label}]. Idempotent (MERGE).
UNWIND $rows AS row
MATCH (i:Item {id: row.item})
MERGE (e:Entity {uri: row.uri})
SET e.label = coalesce(e.label, row.label)
FOREACH (_ IN CASE WHEN row.rel = 'DIRECTED_BY' THEN [1] ELSE [] END | MERGE (i)-[:DIRECTED_BY]->(e))
FOREACH (_ IN CASE WHEN row.rel = 'STARRING' THEN [1] ELSE [] END | MERGE (i)-[:STARRING]->(e))
FOREACH (_ IN CASE WHEN row.rel = 'WRITTEN_BY' THEN [1] ELSE [] END | MERGE (i)-[:WRITTEN_BY]->(e))
FOREACH (_ IN CASE WHEN row.rel = 'PRODUCED_BY' THEN [1] ELSE [] END | MERGE (i)-[:PRODUCED_BY]->(e))
FOREACH (_ IN CASE WHEN row.rel = 'DISTRIBUTED_BY' THEN [1] ELSE [] END | MERGE (i)-[:DISTRIBUTED_BY]->(e))
FOREACH (_ IN CASE WHEN row.rel = 'CINEMATOGRAPHY_BY' THEN [1] ELSE [] END | MERGE (i)-[:CINEMATOGRAPHY_BY]->(e))
FOREACH (_ IN CASE WHEN row.rel = 'AUTHORED_BY' THEN [1] ELSE [] END | MERGE (i)-[:AUTHORED_BY]->(e))
FOREACH (_ IN CASE WHEN row.rel = 'DBPEDIA_GENRE' THEN [1] ELSE [] END | MERGE (i)-[:DBPEDIA_GENRE]->(e))
FOREACH (_ IN CASE WHEN row.rel = 'PUBLISHED_BY' THEN [1] ELSE [] END | MERGE (i)-[:PUBLISHED_BY]->(e))
FOREACH (_ IN CASE WHEN row.rel = 'IN_SERIES' THEN [1] ELSE [] END | MERGE (i)-[:IN_SERIES]->(e))
FOREACH (_ IN CASE WHEN row.rel = 'HAS_SUBJECT' THEN [1] ELSE [] END | MERGE (i)-[:HAS_SUBJECT]->(e));
