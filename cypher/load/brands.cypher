// (:Item)-[:BY_BRAND]->(:Brand). Rows: {item, name}.
UNWIND $rows AS row
MATCH (i:Item {id: row.item})
MERGE (b:Brand {name: row.name})
MERGE (i)-[:BY_BRAND]->(b);
