// Write one batch of users' top-k lists as RECOMMENDED edges and record progress on the run node, all in
// one transaction so a crash never leaves half a batch. A rerun changes nothing: an edge of this run that
// already links the user and the item is updated, not doubled (MERGE's semantics, written out below).
// Params: $run, $users_done (progress after this batch), $rows: [{user, items: [id], scores: [float]}].
// The run node is locked first, so writers of one run queue on it and the existence check cannot race.
MATCH (run:RecommendationRun {id: $run})
SET run.updated_at = datetime()
WITH run
CALL (run) {
  UNWIND $rows AS row
  MATCH (u:User {id: row.user})
  UNWIND range(0, size(row.items) - 1) AS pos
  MATCH (i:Item {id: row.items[pos]})
  // This run's edge between the two, found by expanding from them. `properties(old).run` keeps the
  // planner off the recommended_run index: on a graph without RECOMMENDED edges yet it would seek the
  // index and filter by the end nodes, i.e. scan every edge of the run once per edge written (a MERGE
  // here did, until Neo4j re-planned ~10 s later: docs/operations.md, "Main job").
  OPTIONAL MATCH (u)-[old:RECOMMENDED]->(i) WHERE properties(old).run = $run
  FOREACH (_ IN CASE WHEN old IS NULL THEN [1] ELSE [] END |
    CREATE (u)-[:RECOMMENDED {run: $run, rank: pos + 1, score: row.scores[pos]}]->(i))
  FOREACH (_ IN CASE WHEN old IS NULL THEN [] ELSE [1] END |
    SET old.rank = pos + 1, old.score = row.scores[pos])
  RETURN count(*) AS edges
}
SET run.users_done = $users_done
RETURN edges;
