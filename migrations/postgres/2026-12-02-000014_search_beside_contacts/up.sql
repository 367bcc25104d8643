-- Substring search moves beside the contacts, as SQLite's FTS5 table
-- `contacts_search` always was. A status change or an assignment writes a new
-- version of the contact's row, and PostgreSQL then adds it to every index of
-- the table (no HOT update: status_id and owner_id are indexed). With the four
-- trigram indexes on `contacts` that meant re-inserting every trigram of the
-- name, e-mail, phone and identifier of each contact a bulk action touched:
-- 9.5 s of an 86k-row status change, 5.8 s without them (docs/decisions.md).
-- This table changes only when a searched field does.
DROP INDEX contacts_search_name;
DROP INDEX contacts_search_email;
DROP INDEX contacts_search_phone;
DROP INDEX contacts_search_identifier;

-- The searched text, already lower-cased as the search compares it.
-- No foreign key: the triggers below keep it, and a key would cost an
-- import one more lookup per row.
CREATE TABLE contacts_search (
    contact_id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    email TEXT,
    phone TEXT,
    identifier TEXT
);
INSERT INTO contacts_search (contact_id, name, email, phone, identifier)
SELECT id, lower(name), lower(email), phone, lower(identifier) FROM contacts;
CREATE INDEX contacts_search_name ON contacts_search USING gin (name gin_trgm_ops);
CREATE INDEX contacts_search_email ON contacts_search USING gin (email gin_trgm_ops);
CREATE INDEX contacts_search_phone ON contacts_search USING gin (phone gin_trgm_ops);
CREATE INDEX contacts_search_identifier ON contacts_search USING gin (identifier gin_trgm_ops);

-- Inserts and deletes once per statement (an import's batches); edits row by
-- row, since a column list cannot be combined with transition tables, and
-- only when a searched field really changed.
CREATE FUNCTION contacts_search_inserted() RETURNS trigger AS $$
BEGIN
    INSERT INTO contacts_search (contact_id, name, email, phone, identifier)
    SELECT id, lower(name), lower(email), phone, lower(identifier) FROM inserted_rows;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE FUNCTION contacts_search_deleted() RETURNS trigger AS $$
BEGIN
    DELETE FROM contacts_search s USING deleted_rows d WHERE s.contact_id = d.id;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE FUNCTION contacts_search_updated() RETURNS trigger AS $$
BEGIN
    UPDATE contacts_search
    SET name = lower(NEW.name), email = lower(NEW.email), phone = NEW.phone, identifier = lower(NEW.identifier)
    WHERE contact_id = NEW.id;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER contacts_search_insert AFTER INSERT ON contacts
    REFERENCING NEW TABLE AS inserted_rows
    FOR EACH STATEMENT EXECUTE FUNCTION contacts_search_inserted();
CREATE TRIGGER contacts_search_delete AFTER DELETE ON contacts
    REFERENCING OLD TABLE AS deleted_rows
    FOR EACH STATEMENT EXECUTE FUNCTION contacts_search_deleted();
CREATE TRIGGER contacts_search_update AFTER UPDATE OF name, email, phone, identifier ON contacts
    FOR EACH ROW
    WHEN (OLD.name IS DISTINCT FROM NEW.name OR OLD.email IS DISTINCT FROM NEW.email
          OR OLD.phone IS DISTINCT FROM NEW.phone OR OLD.identifier IS DISTINCT FROM NEW.identifier)
    EXECUTE FUNCTION contacts_search_updated();
