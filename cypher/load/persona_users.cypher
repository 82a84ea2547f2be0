// Write-back of one batch of personas (runs inside the run's single write transaction).
// $rows: [{id, persona: [float]}]; $version, $run: the PersonaRun's version and id.
UNWIND $rows AS row
MATCH (u:User {id: row.id})
SET u.persona = row.persona, u.persona_version = $version, u.persona_run = $run;
