// `load --engine spark`, (:Item)-[:CO_INTERACTED {weight}]->(:Item) from consecutive train interactions
// (connector `query` write from one partition). event: {src, dst, weight}. SET, not +=, as
// load/co_interacted.cypher: a rerun recomputes instead of doubling.
MATCH (a:Item {id: event.src})
MATCH (b:Item {id: event.dst})
MERGE (a)-[r:CO_INTERACTED]->(b)
SET r.weight = event.weight
