-- The lead score moves beside the contacts (issue 10). Every training writes
-- a score for every contact; kept on `contacts`, each written row was a new
-- row version in each of the table's fourteen indexes (on PostgreSQL no
-- update that changes an indexed column is HOT), which made the first
-- training of 120,000 contacts take 12.6 s. Here a score is a narrow row with
-- two indexes. No row: no score (too few closed contacts, or the contact is
-- newer than the latest training).
CREATE TABLE contact_scores (
    contact_id INTEGER PRIMARY KEY NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    -- Per mille (0–1000): an integer, so the list's keyset cursor is exact.
    score INTEGER NOT NULL
);
-- The list's `sort=score`, read in (score, id) order as the other sorts are.
CREATE INDEX contact_scores_sort ON contact_scores (score, contact_id);
INSERT INTO contact_scores (contact_id, score)
    SELECT id, lead_score FROM contacts WHERE lead_score IS NOT NULL;
DROP INDEX contacts_score_sort;
ALTER TABLE contacts DROP COLUMN lead_score;
