// The PersonaState gate node, committed on its own before the first write-back so that readers can lock it.
MERGE (g:PersonaState {id: 'personas'})
RETURN g.id AS id;
