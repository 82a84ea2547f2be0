// Nodes per label and relationships per type that a load writes, from the count store (constant time):
// `load --engine spark` takes the difference around each connector write for its summary, since the
// connector reports no update counters.
CALL () {
  MATCH (n:User) RETURN 'User' AS name, count(n) AS count
  UNION ALL MATCH (n:Item) RETURN 'Item' AS name, count(n) AS count
  UNION ALL MATCH (n:Category) RETURN 'Category' AS name, count(n) AS count
  UNION ALL MATCH (n:Brand) RETURN 'Brand' AS name, count(n) AS count
  UNION ALL MATCH (n:Person) RETURN 'Person' AS name, count(n) AS count
  UNION ALL MATCH (n:Genre) RETURN 'Genre' AS name, count(n) AS count
  UNION ALL MATCH (n:Attribute) RETURN 'Attribute' AS name, count(n) AS count
  UNION ALL MATCH ()-[r:INTERACTED]->() RETURN 'INTERACTED' AS name, count(r) AS count
  UNION ALL MATCH ()-[r:IN_CATEGORY]->() RETURN 'IN_CATEGORY' AS name, count(r) AS count
  UNION ALL MATCH ()-[r:BY_BRAND]->() RETURN 'BY_BRAND' AS name, count(r) AS count
  UNION ALL MATCH ()-[r:BY_AUTHOR]->() RETURN 'BY_AUTHOR' AS name, count(r) AS count
  UNION ALL MATCH ()-[r:HAS_GENRE]->() RETURN 'HAS_GENRE' AS name, count(r) AS count
  UNION ALL MATCH ()-[r:HAS_ATTRIBUTE]->() RETURN 'HAS_ATTRIBUTE' AS name, count(r) AS count
  UNION ALL MATCH ()-[r:ALSO_BOUGHT]->() RETURN 'ALSO_BOUGHT' AS name, count(r) AS count
  UNION ALL MATCH ()-[r:ALSO_VIEWED]->() RETURN 'ALSO_VIEWED' AS name, count(r) AS count
  UNION ALL MATCH ()-[r:BOUGHT_TOGETHER]->() RETURN 'BOUGHT_TOGETHER' AS name, count(r) AS count
  UNION ALL MATCH ()-[r:CO_INTERACTED]->() RETURN 'CO_INTERACTED' AS name, count(r) AS count
}
RETURN name, count;
