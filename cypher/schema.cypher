// personarec graph schema: applied idempotently by `personarec db init`.
// Parameters: $item_dim (Item.embedding size), $persona_dim (User.persona size).
// Graph model: see README "Graph model"; the split stored on INTERACTED follows docs/protocol.md.

// ---- node keys (uniqueness constraints also give the lookup index)
CREATE CONSTRAINT user_id IF NOT EXISTS FOR (n:User) REQUIRE n.id IS UNIQUE;
CREATE CONSTRAINT item_id IF NOT EXISTS FOR (n:Item) REQUIRE n.id IS UNIQUE;
CREATE CONSTRAINT category_name IF NOT EXISTS FOR (n:Category) REQUIRE n.name IS UNIQUE;
CREATE CONSTRAINT brand_name IF NOT EXISTS FOR (n:Brand) REQUIRE n.name IS UNIQUE;
CREATE CONSTRAINT person_name IF NOT EXISTS FOR (n:Person) REQUIRE n.name IS UNIQUE;
CREATE CONSTRAINT genre_name IF NOT EXISTS FOR (n:Genre) REQUIRE n.name IS UNIQUE;
CREATE CONSTRAINT attribute_id IF NOT EXISTS FOR (n:Attribute) REQUIRE n.id IS UNIQUE;
CREATE CONSTRAINT entity_uri IF NOT EXISTS FOR (n:Entity) REQUIRE n.uri IS UNIQUE;
CREATE CONSTRAINT persona_run_id IF NOT EXISTS FOR (n:PersonaRun) REQUIRE n.id IS UNIQUE;
CREATE CONSTRAINT rec_run_id IF NOT EXISTS FOR (n:RecommendationRun) REQUIRE n.id IS UNIQUE;
CREATE CONSTRAINT dataset_name IF NOT EXISTS FOR (n:Dataset) REQUIRE n.name IS UNIQUE;

// ---- property indexes used by loaders, exports and Browser exploration
CREATE INDEX item_title IF NOT EXISTS FOR (n:Item) ON (n.title);
CREATE INDEX item_dataset IF NOT EXISTS FOR (n:Item) ON (n.dataset);
CREATE INDEX user_dataset IF NOT EXISTS FOR (n:User) ON (n.dataset);
CREATE INDEX entity_label IF NOT EXISTS FOR (n:Entity) ON (n.label);
CREATE INDEX interacted_split IF NOT EXISTS FOR ()-[r:INTERACTED]-() ON (r.split);
CREATE INDEX recommended_run IF NOT EXISTS FOR ()-[r:RECOMMENDED]-() ON (r.run);

// ---- vector indexes (Neo4j 5.13+): LLM item embeddings and user personas
CREATE VECTOR INDEX item_embedding IF NOT EXISTS FOR (n:Item) ON n.embedding
OPTIONS {indexConfig: {`vector.dimensions`: $item_dim, `vector.similarity_function`: 'cosine'}};
CREATE VECTOR INDEX user_persona IF NOT EXISTS FOR (n:User) ON n.persona
OPTIONS {indexConfig: {`vector.dimensions`: $persona_dim, `vector.similarity_function`: 'cosine'}};
