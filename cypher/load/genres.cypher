// (:Item)-[:HAS_GENRE]->(:Genre). Rows: {item, name}.
UNWIND $rows AS row
MATCH (i:Item {id: row.item})
MERGE (g:Genre {name: row.name})
MERGE (i)-[:HAS_GENRE]->(g);
