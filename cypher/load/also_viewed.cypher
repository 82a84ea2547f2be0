// (:Item)-[:ALSO_VIEWED]->(:Item) from Amazon metadata. Rows: {src, dst}; links to items not loaded are dropped.
UNWIND $rows AS row
MATCH (a:Item {id: row.src})
MATCH (b:Item {id: row.dst})
MERGE (a)-[:ALSO_VIEWED]->(b);
