-- Merging duplicates: the merge log (with what undo needs) and the duplicate
-- finder's match keys and candidate pairs. Keep in step with migrations/postgres.

-- One row per merge of `merged_id` (B, deleted) into `kept_id` (A, kept).
-- No foreign keys to contacts: the log outlives both. `record` is the JSON
-- that undo reads: B's snapshot, A's fields before and after, the IDs of
-- every row that moved.
CREATE TABLE merges (
    id INTEGER PRIMARY KEY NOT NULL,
    kept_id INTEGER NOT NULL,
    merged_id INTEGER NOT NULL,
    kept_name TEXT NOT NULL,
    merged_name TEXT NOT NULL,
    user_id INTEGER REFERENCES users (id) ON DELETE SET NULL,
    record TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    undone_at TIMESTAMP,
    undone_by INTEGER REFERENCES users (id) ON DELETE SET NULL
);
-- Undo looks for later merges that involve either contact.
CREATE INDEX merges_kept ON merges (kept_id, id);
CREATE INDEX merges_merged ON merges (merged_id, id);

-- The duplicate finder's blocking keys: a 64-bit hash of each key a contact
-- yields (its mailbox, its name in a company, a phone in its name…). Two
-- contacts are compared only when they share a key.
CREATE TABLE contact_match_keys (
    contact_id INTEGER NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    key_hash BIGINT NOT NULL,
    PRIMARY KEY (contact_id, key_hash)
) WITHOUT ROWID;
CREATE INDEX contact_match_keys_key ON contact_match_keys (key_hash, contact_id);

-- Likely duplicate pairs (contact_id < other_id), scored 0–1000, strongest
-- first on the duplicates page.
CREATE TABLE duplicate_pairs (
    contact_id INTEGER NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    other_id INTEGER NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    score INTEGER NOT NULL,
    reason TEXT NOT NULL,
    PRIMARY KEY (contact_id, other_id)
);
CREATE INDEX duplicate_pairs_rank ON duplicate_pairs (score, contact_id, other_id);
CREATE INDEX duplicate_pairs_other ON duplicate_pairs (other_id);

-- `seed --duplicates` records the pairs it planted, so the finder's recall
-- can be measured.
CREATE TABLE seed_duplicates (
    contact_id INTEGER PRIMARY KEY NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    original_id INTEGER NOT NULL,
    kind TEXT NOT NULL
);
