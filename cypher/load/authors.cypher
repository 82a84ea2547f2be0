// (:Item)-[:BY_AUTHOR]->(:Person). Rows: {item, name}.
UNWIND $rows AS row
MATCH (i:Item {id: row.item})
MERGE (p:Person {name: row.name})
MERGE (i)-[:BY_AUTHOR]->(p);
