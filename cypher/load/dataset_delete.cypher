// --replace: remove a dataset's users, items, attributes and Dataset node (with their relationships)
// before loading it again. Shared vocabularies (Category, Genre, …) stay. Run in auto-commit.
CALL () {
  MATCH (n:User {dataset: $dataset}) RETURN n
  UNION MATCH (n:Item {dataset: $dataset}) RETURN n
  UNION MATCH (n:Attribute {dataset: $dataset}) RETURN n
  UNION MATCH (n:Dataset {name: $dataset}) RETURN n
}
CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 5000 ROWS;
