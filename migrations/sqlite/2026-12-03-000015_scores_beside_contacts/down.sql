ALTER TABLE contacts ADD COLUMN lead_score INTEGER;
UPDATE contacts SET lead_score = (
    SELECT s.score FROM contact_scores s WHERE s.contact_id = contacts.id);
CREATE INDEX contacts_score_sort ON contacts (lead_score, id);
DROP TABLE contact_scores;
