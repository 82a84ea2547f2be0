// Entity links: (:Item)-[:SAME_AS {confidence, method}]->(:Entity {uri, label, types}). Idempotent.
// $rows: [{item, uri, label, type, confidence, method}]
UNWIND $rows AS row
MATCH (i:Item {id: row.item})
MERGE (e:Entity {uri: row.uri})
SET e.label = coalesce(row.label, e.label),
    e.types = CASE WHEN row.type IS NULL OR row.type IN coalesce(e.types, []) THEN e.types
                   ELSE coalesce(e.types, []) + row.type END
MERGE (i)-[s:SAME_AS]->(e)
SET s.confidence = row.confidence, s.method = row.method;
