// --replace: remove a dataset's users, items and attributes with their relationships before loading it
// again. Shared vocabularies (Category, Genre, …) stay. Run in auto-commit, statement by statement.
// Relationships go first, a fixed number per transaction, outgoing then incoming (so an edge between two
// of the dataset's nodes is seen once): batching by node would carry all edges of a dense node in one
// transaction and exhaust the transaction memory pool. Params: $dataset, $owner (the load lock's owner).
CALL () {
  MATCH (n:User {dataset: $dataset}) RETURN n
  UNION MATCH (n:Item {dataset: $dataset}) RETURN n
  UNION MATCH (n:Attribute {dataset: $dataset}) RETURN n
}
MATCH (n)-[r]->()
CALL (r) { DELETE r } IN TRANSACTIONS OF 5000 ROWS;
CALL () {
  MATCH (n:User {dataset: $dataset}) RETURN n
  UNION MATCH (n:Item {dataset: $dataset}) RETURN n
  UNION MATCH (n:Attribute {dataset: $dataset}) RETURN n
}
MATCH (n)<-[r]-()
CALL (r) { DELETE r } IN TRANSACTIONS OF 5000 ROWS;
CALL () {
  MATCH (n:User {dataset: $dataset}) RETURN n
  UNION MATCH (n:Item {dataset: $dataset}) RETURN n
  UNION MATCH (n:Attribute {dataset: $dataset}) RETURN n
}
CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 5000 ROWS;
// The Dataset node carries the load lock of the loader that runs this: it stays, holding only its name
// and the lock, so the load that follows starts from nothing (no fingerprint, counts or status).
MATCH (d:Dataset {name: $dataset})
SET d = {name: d.name, lock_owner: d.lock_owner, lock_host: d.lock_host, lock_pid: d.lock_pid,
         lock_since: d.lock_since, lock_at: d.lock_at};
