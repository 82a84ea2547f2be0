// Empty the graph but keep the schema. Relationships go first, a fixed number per transaction: batching
// by node would put every relationship of a dense node (a popular item, a hub) into one transaction and
// exhaust the transaction memory pool (MemoryPoolOutOfMemoryError). Then the nodes, now without edges.
// Run in auto-commit, statement by statement.
MATCH ()-[r]->() CALL (r) { DELETE r } IN TRANSACTIONS OF 5000 ROWS;
MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 5000 ROWS;
