// Every INTERACTED edge as five plain columns, for `recommend --engine spark` (a connector `query` read,
// partitioned by SKIP/LIMIT with cypher/spark/count_interactions.cypher as its `query.count`).
// Plain properties rather than a relationship read: that one ships both end nodes' whole property maps
// (personas included), which on the million-user graph outgrew the server's transaction memory.
// The connector takes no parameters on a read, so the dataset and split filter run in Spark.
MATCH (u:User)-[r:INTERACTED]->(i:Item)
RETURN u.id AS user, u.dataset AS dataset, r.split AS split, r.seq AS seq, i.id AS item;
