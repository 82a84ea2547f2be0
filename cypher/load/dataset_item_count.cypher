// Items of one dataset (for the Dataset node's counts).
MATCH (i:Item {dataset: $dataset})
RETURN count(i) AS items;
