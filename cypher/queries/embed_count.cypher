// How many items an embedding run will look at (for the progress bar). Parameters: $dataset (or null).
MATCH (i:Item) WHERE $dataset IS NULL OR i.dataset = $dataset
RETURN count(i) AS items;
