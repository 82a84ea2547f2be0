// The Spark connector's write query for `recommend --engine spark` (option `query`): the connector runs it
// as `UNWIND $events AS event <this>` once per batch of rows (option `batch.size`, one transaction each);
// a row is one user's top-k: {user, items: [id], scores: [float], run}.
// Same edges and run semantics as load/recommend_edges.cypher: one edge per run, user and item (a rerun
// changes nothing), and the run's progress lands in the batch's own transaction. The run node is locked
// first, so concurrent tasks' batches queue on it instead of deadlocking on shared Item nodes, and the
// existence checks cannot race; a user counts as new progress only when it had no edge of this run
// before (a retried batch adds nothing twice). Edges are looked up by expanding from the user with
// `properties(r).run`, never by a seek of the recommended_run index (load/recommend_edges.cypher says why).
WITH collect(event) AS events
MATCH (run:RecommendationRun {id: events[0].run})
SET run.updated_at = datetime()
WITH run, events
CALL (run, events) {
  UNWIND events AS row
  MATCH (u:User {id: row.user})
  WITH u, row, NOT EXISTS { (u)-[r:RECOMMENDED]->() WHERE properties(r).run = row.run } AS new
  UNWIND range(0, size(row.items) - 1) AS pos
  MATCH (i:Item {id: row.items[pos]})
  OPTIONAL MATCH (u)-[old:RECOMMENDED]->(i) WHERE properties(old).run = row.run
  FOREACH (_ IN CASE WHEN old IS NULL THEN [1] ELSE [] END |
    CREATE (u)-[:RECOMMENDED {run: row.run, rank: pos + 1, score: row.scores[pos]}]->(i))
  FOREACH (_ IN CASE WHEN old IS NULL THEN [] ELSE [1] END |
    SET old.rank = pos + 1, old.score = row.scores[pos])
  RETURN count(DISTINCT CASE WHEN new THEN u END) AS added
}
SET run.users_done = run.users_done + added
