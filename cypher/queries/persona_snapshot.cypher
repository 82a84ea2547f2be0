// Every persona of $dataset (null = all) as one consistent snapshot: the read lock on the PersonaState
// gate waits for a persona write-back that is committing and keeps the next one out until this read
// ends (Neo4j reads are read-committed; without the lock a scan may straddle a commit). Needs APOC core.
OPTIONAL MATCH (g:PersonaState {id: 'personas'})
CALL apoc.lock.read.nodes(CASE WHEN g IS NULL THEN [] ELSE [g] END)
WITH count(*) AS locked
MATCH (u:User)
WHERE u.persona IS NOT NULL AND ($dataset IS NULL OR u.dataset = $dataset)
RETURN u.id AS id, u.persona AS persona, u.persona_version AS version, u.persona_run AS run
ORDER BY id;
