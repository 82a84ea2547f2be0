// Write one batch of users' top-k lists as RECOMMENDED edges (MERGE: a rerun changes nothing) and
// record progress on the run node, all in one transaction so a crash never leaves half a batch.
// Params: $run, $users_done (progress after this batch), $rows: [{user, items: [id], scores: [float]}].
MATCH (run:RecommendationRun {id: $run})
CALL (run) {
  UNWIND $rows AS row
  MATCH (u:User {id: row.user})
  UNWIND range(0, size(row.items) - 1) AS pos
  MATCH (i:Item {id: row.items[pos]})
  MERGE (u)-[e:RECOMMENDED {run: $run}]->(i)
  SET e.rank = pos + 1, e.score = row.scores[pos]
  RETURN count(e) AS edges
}
SET run.users_done = $users_done, run.updated_at = datetime()
RETURN edges;
