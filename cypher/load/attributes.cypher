// (:Item)-[:HAS_ATTRIBUTE]->(:Attribute). Rows: {item, id, raw_id}. Param: $dataset.
UNWIND $rows AS row
MATCH (i:Item {id: row.item})
MERGE (a:Attribute {id: row.id})
SET a.raw_id = row.raw_id, a.dataset = $dataset
MERGE (i)-[:HAS_ATTRIBUTE]->(a);
