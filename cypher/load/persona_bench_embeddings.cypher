// Benchmark only (bench/personas.py): give items of $dataset that have no embedding a stand-in vector,
// so the export moves as many bytes as with real 384-d LLM embeddings. $rows: [{id, embedding}].
UNWIND $rows AS row
MATCH (i:Item {id: row.id})
WHERE i.embedding IS NULL
SET i.embedding = row.embedding;
