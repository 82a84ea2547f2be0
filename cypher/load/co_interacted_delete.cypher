// Drop a dataset's CO_INTERACTED edges before they are rebuilt for a different split (the train part
// changed, so old pairs may no longer hold). Run in auto-commit. Param: $dataset.
MATCH (:Item {dataset: $dataset})-[r:CO_INTERACTED]->()
CALL (r) { DELETE r } IN TRANSACTIONS OF 10000 ROWS;
