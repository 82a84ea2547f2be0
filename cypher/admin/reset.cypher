// Empty the graph but keep the schema: delete in batches so a large graph does not exhaust the heap.
MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS;
