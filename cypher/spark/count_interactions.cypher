// How many rows cypher/spark/read_histories.cypher returns (the count store: constant time); the Spark job
// sizes that read's partitions with it.
MATCH (:User)-[r:INTERACTED]->(:Item)
RETURN count(r) AS count;
