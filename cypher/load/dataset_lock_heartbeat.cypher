// Keep a held load lock fresh (a lock whose heartbeat stops expires). Returns 0 when the lock was lost
// (taken over after expiry, or the graph was reset). Params: $dataset, $owner.
OPTIONAL MATCH (d:Dataset {name: $dataset}) WHERE d.lock_owner = $owner
SET d.lock_at = datetime()
RETURN count(d) AS held;
