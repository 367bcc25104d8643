-- SQLite only (PostgreSQL's sequences never hand out an ID twice).
-- Contact IDs are never reused: a merge deletes B and its undo brings B back
-- with its ID, which SQLite would otherwise give to the next new contact
-- whenever B was the newest (a plain INTEGER PRIMARY KEY takes max(id) + 1).
-- AUTOINCREMENT needs the table rebuilt, SQLite's documented way: foreign
-- keys off (so dropping the old table cascades nothing; this migration runs
-- outside diesel's transaction for that, see metadata.toml), copy, drop,
-- rename, and the indexes and triggers again.
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;
CREATE TABLE contacts_rebuilt (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    name TEXT NOT NULL,
    email TEXT,
    phone TEXT,
    identifier TEXT,
    company TEXT,
    city TEXT,
    country TEXT,
    status_id INTEGER NOT NULL CHECK (status_id BETWEEN 1 AND 7),
    owner_id INTEGER REFERENCES users (id) ON DELETE SET NULL,
    opted_out_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    last_activity_at TIMESTAMP
);
INSERT INTO contacts_rebuilt SELECT id, name, email, phone, identifier, company, city, country, status_id, owner_id,
    opted_out_at, created_at, updated_at, last_activity_at FROM contacts;
DROP TABLE contacts;
ALTER TABLE contacts_rebuilt RENAME TO contacts;
CREATE UNIQUE INDEX contacts_email_key ON contacts (email);
CREATE UNIQUE INDEX contacts_phone_key ON contacts (phone);
CREATE UNIQUE INDEX contacts_identifier_key ON contacts (identifier);
CREATE INDEX contacts_status_sort ON contacts (status_id, id);
CREATE INDEX contacts_owner_status_sort ON contacts (owner_id, status_id, id);
CREATE INDEX contacts_name_sort ON contacts (name, id);
CREATE INDEX contacts_created_sort ON contacts (created_at, id);
CREATE INDEX contacts_activity_sort ON contacts (last_activity_at, id);
CREATE TRIGGER contacts_count_insert AFTER INSERT ON contacts
BEGIN
    UPDATE status_counts SET total = total + 1 WHERE status_id = NEW.status_id;
END;
CREATE TRIGGER contacts_count_delete AFTER DELETE ON contacts
BEGIN
    UPDATE status_counts SET total = total - 1 WHERE status_id = OLD.status_id;
END;
CREATE TRIGGER contacts_count_update AFTER UPDATE OF status_id ON contacts
WHEN OLD.status_id <> NEW.status_id
BEGIN
    UPDATE status_counts SET total = total - 1 WHERE status_id = OLD.status_id;
    UPDATE status_counts SET total = total + 1 WHERE status_id = NEW.status_id;
END;
CREATE TRIGGER contacts_search_insert AFTER INSERT ON contacts
BEGIN
    INSERT INTO contacts_search (rowid, name, email, phone, identifier)
    VALUES (NEW.id, NEW.name, NEW.email, NEW.phone, NEW.identifier);
END;
CREATE TRIGGER contacts_search_delete AFTER DELETE ON contacts
BEGIN
    INSERT INTO contacts_search (contacts_search, rowid, name, email, phone, identifier)
    VALUES ('delete', OLD.id, OLD.name, OLD.email, OLD.phone, OLD.identifier);
END;
CREATE TRIGGER contacts_search_update AFTER UPDATE OF name, email, phone, identifier ON contacts
BEGIN
    INSERT INTO contacts_search (contacts_search, rowid, name, email, phone, identifier)
    VALUES ('delete', OLD.id, OLD.name, OLD.email, OLD.phone, OLD.identifier);
    INSERT INTO contacts_search (rowid, name, email, phone, identifier)
    VALUES (NEW.id, NEW.name, NEW.email, NEW.phone, NEW.identifier);
END;
CREATE INDEX contacts_status_activity ON contacts (status_id, last_activity_at, id);
CREATE INDEX contacts_owner_activity ON contacts (owner_id, last_activity_at, id);
-- IDs already merged away are not handed out either.
DELETE FROM sqlite_sequence WHERE name IN ('contacts', 'contacts_rebuilt');
INSERT INTO sqlite_sequence (name, seq)
SELECT 'contacts', max(coalesce((SELECT max(id) FROM contacts), 0), coalesce((SELECT max(merged_id) FROM merges), 0));
COMMIT;
PRAGMA foreign_keys = ON;
