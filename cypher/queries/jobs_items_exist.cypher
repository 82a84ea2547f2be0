// Which of the given item ids exist.
// Params: $ids (list of node ids).
UNWIND $ids AS iid
MATCH (i:Item {id: iid})
RETURN i.id AS item;
