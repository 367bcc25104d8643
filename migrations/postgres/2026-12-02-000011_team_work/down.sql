DROP TABLE activity_log;
DROP TRIGGER contacts_count_update ON contacts;
DROP FUNCTION contacts_count_updated();
CREATE TRIGGER contacts_count_update AFTER UPDATE OF status_id ON contacts
    FOR EACH ROW WHEN (OLD.status_id IS DISTINCT FROM NEW.status_id)
    EXECUTE FUNCTION contacts_count_status();
CREATE OR REPLACE FUNCTION contacts_count_deleted() RETURNS trigger AS $$
BEGIN
    UPDATE status_counts s SET total = s.total - n.total
    FROM (SELECT status_id, count(*) AS total FROM deleted_rows GROUP BY status_id) n
    WHERE s.status_id = n.status_id;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
DROP TABLE contact_trash;
DELETE FROM contacts WHERE deleted_at IS NOT NULL;
ALTER TABLE contacts DROP COLUMN deleted_at;
