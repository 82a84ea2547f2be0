// Delete a RecommendationRun node once its edges are gone.
// Params: $run.
MATCH (r:RecommendationRun {id: $run})
DETACH DELETE r
RETURN count(*) AS deleted;
