// `load --engine spark`, (:User)-[:INTERACTED {rating, ts, seq, split}]->(:Item) (connector `query` write from
// one partition: concurrent batches would lock the same Item nodes). event: {user, item, rating, ts, seq, split}.
// MERGE on (user, item, seq) as load/interactions.cypher, never the first-load CREATE: Spark may rerun a
// failed task, which replays batches that were already committed.
MATCH (u:User {id: event.user})
MATCH (i:Item {id: event.item})
MERGE (u)-[r:INTERACTED {seq: event.seq}]->(i)
SET r.rating = event.rating, r.ts = event.ts, r.split = event.split
