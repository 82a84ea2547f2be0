// Release the load lock if we still hold it (the load finished or failed). Params: $dataset, $owner.
OPTIONAL MATCH (d:Dataset {name: $dataset}) WHERE d.lock_owner = $owner
REMOVE d.lock_owner, d.lock_host, d.lock_pid, d.lock_since, d.lock_at
RETURN count(d) AS released;
