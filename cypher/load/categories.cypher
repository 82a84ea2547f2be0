// (:Item)-[:IN_CATEGORY]->(:Category). Rows: {item, name}.
UNWIND $rows AS row
MATCH (i:Item {id: row.item})
MERGE (c:Category {name: row.name})
MERGE (i)-[:IN_CATEGORY]->(c);
