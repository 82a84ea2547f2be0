// One RecommendationRun node's properties.
// Params: $run.
MATCH (r:RecommendationRun {id: $run})
RETURN properties(r) AS run;
