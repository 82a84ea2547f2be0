// How many RECOMMENDED edges a run holds (the Spark job reports the edges it wrote as a difference).
// Params: $run.
MATCH (:User)-[r:RECOMMENDED {run: $run}]->(:Item)
RETURN count(r) AS edges;
