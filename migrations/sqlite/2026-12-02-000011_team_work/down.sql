DROP TABLE activity_log;
DROP TRIGGER contacts_count_restore;
DROP TRIGGER contacts_count_trash;
DROP TRIGGER contacts_count_update;
CREATE TRIGGER contacts_count_update AFTER UPDATE OF status_id ON contacts
WHEN OLD.status_id <> NEW.status_id
BEGIN
    UPDATE status_counts SET total = total - 1 WHERE status_id = OLD.status_id;
    UPDATE status_counts SET total = total + 1 WHERE status_id = NEW.status_id;
END;
DROP TRIGGER contacts_count_delete;
CREATE TRIGGER contacts_count_delete AFTER DELETE ON contacts
BEGIN
    UPDATE status_counts SET total = total - 1 WHERE status_id = OLD.status_id;
END;
DROP TABLE contact_trash;
DELETE FROM contacts WHERE deleted_at IS NOT NULL;
DROP INDEX contacts_trashed;
ALTER TABLE contacts DROP COLUMN deleted_at;
