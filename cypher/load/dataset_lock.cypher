// Take the load lock of a dataset, atomically: the Dataset node records one owner at a time, so two
// loaders of one dataset cannot both decide "first load, CREATE the edges" and double the graph.
// The lock is free when nobody holds it, when we hold it, when its holder is $steal (a loader that is
// known to be dead) or when its holder stopped its heartbeat $stale_s seconds ago (a crashed loader).
// Params: $dataset, $owner (a fresh token per load), $host, $pid, $steal (token or null), $stale_s.
MERGE (d:Dataset {name: $dataset})
// Writing first takes the node's write lock, so concurrent loaders queue here and each reads the lock
// as the previous one committed it (Neo4j's documented way to make a read-modify-write serializable).
SET d._lock_probe = true
WITH d
WITH d, d.lock_owner AS holder, d.lock_host AS host, d.lock_pid AS pid, d.lock_since AS since,
     CASE WHEN d.lock_at IS NULL THEN null ELSE duration.inSeconds(d.lock_at, datetime()).seconds END AS idle
WITH d, holder, host, pid, since, idle,
     CASE WHEN holder IS NULL OR holder = $owner OR holder = coalesce($steal, '') OR idle IS NULL
               OR idle >= $stale_s THEN true ELSE false END AS acquired
FOREACH (_ IN CASE WHEN acquired THEN [1] ELSE [] END |
  SET d.lock_owner = $owner, d.lock_host = $host, d.lock_pid = $pid, d.lock_since = datetime(),
      d.lock_at = datetime())
REMOVE d._lock_probe
RETURN acquired, holder, host, pid, toString(since) AS since, idle;
