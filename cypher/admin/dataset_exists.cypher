// Whether dataset $dataset has users or items in the graph (both lookups use the *_dataset indexes).
// Params: $dataset.
RETURN EXISTS { MATCH (:User {dataset: $dataset}) } OR EXISTS { MATCH (:Item {dataset: $dataset}) } AS found;
