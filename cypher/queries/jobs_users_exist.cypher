// Which of the given user ids exist.
// Params: $ids (list of node ids).
UNWIND $ids AS uid
MATCH (u:User {id: uid})
RETURN u.id AS user;
