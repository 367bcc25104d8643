-- The trash (product.md §8): a deleted contact keeps its row, its history,
-- conversations and everything else, marked with `deleted_at`, for 30 days.
-- It gives up its e-mail, phone, identifier and channel identities meanwhile
-- (kept in `contact_trash`), so new contacts may take them; a restore puts
-- them back, or is refused when one was taken.
ALTER TABLE contacts ADD COLUMN deleted_at TIMESTAMP;
CREATE INDEX contacts_trashed ON contacts (deleted_at) WHERE deleted_at IS NOT NULL;
CREATE TABLE contact_trash (
    contact_id INTEGER PRIMARY KEY NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    deleted_by INTEGER REFERENCES users (id) ON DELETE SET NULL,
    email TEXT,
    phone TEXT,
    identifier TEXT,
    -- JSON: [[inbox_id, source_id], …]
    identities TEXT NOT NULL,
    owner_id INTEGER REFERENCES users (id) ON DELETE SET NULL
);

-- Status counts leave trashed contacts out: trashing is a delete for them,
-- restoring an insert, and purging a trashed contact changes nothing.
DROP TRIGGER contacts_count_delete;
CREATE TRIGGER contacts_count_delete AFTER DELETE ON contacts
WHEN OLD.deleted_at IS NULL
BEGIN
    UPDATE status_counts SET total = total - 1 WHERE status_id = OLD.status_id;
END;
DROP TRIGGER contacts_count_update;
CREATE TRIGGER contacts_count_update AFTER UPDATE OF status_id ON contacts
WHEN OLD.status_id <> NEW.status_id AND OLD.deleted_at IS NULL AND NEW.deleted_at IS NULL
BEGIN
    UPDATE status_counts SET total = total - 1 WHERE status_id = OLD.status_id;
    UPDATE status_counts SET total = total + 1 WHERE status_id = NEW.status_id;
END;
CREATE TRIGGER contacts_count_trash AFTER UPDATE OF deleted_at ON contacts
WHEN OLD.deleted_at IS NULL AND NEW.deleted_at IS NOT NULL
BEGIN
    UPDATE status_counts SET total = total - 1 WHERE status_id = OLD.status_id;
END;
CREATE TRIGGER contacts_count_restore AFTER UPDATE OF deleted_at ON contacts
WHEN OLD.deleted_at IS NOT NULL AND NEW.deleted_at IS NULL
BEGIN
    UPDATE status_counts SET total = total + 1 WHERE status_id = NEW.status_id;
END;

-- Who did what, when, to how many contacts (issue 9). `contact_id` is set
-- where an entry concerns one contact; it has no foreign key, so the entry
-- outlives the contact it speaks of.
CREATE TABLE activity_log (
    id INTEGER PRIMARY KEY NOT NULL,
    at TIMESTAMP NOT NULL,
    user_id INTEGER REFERENCES users (id) ON DELETE SET NULL,
    action TEXT NOT NULL,
    contact_id INTEGER,
    count INTEGER NOT NULL,
    summary TEXT NOT NULL
);
CREATE INDEX activity_log_contact ON activity_log (contact_id, id) WHERE contact_id IS NOT NULL;
