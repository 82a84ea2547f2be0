// First statement of a persona write-back transaction: takes the exclusive lock of the PersonaState gate
// node (held until the commit is fully applied; two writers serialise here) and returns the next version.
// Readers that need a consistent snapshot take the gate's read lock (queries/persona_snapshot.cypher).
MERGE (g:PersonaState {id: 'personas'})
SET g.locked_by = $run
WITH g
OPTIONAL MATCH (r:PersonaRun)
WITH g, coalesce(max(r.version), 0) + 1 AS version
SET g.version = version, g.run = $run
RETURN version;
