-- Substring search over name, e-mail, phone and identifier without scanning
-- the table: an FTS5 trigram index (case-insensitive, Unicode-aware), kept in
-- step with `contacts` by triggers. The PostgreSQL twin uses pg_trgm.
CREATE VIRTUAL TABLE contacts_search USING fts5(
    name, email, phone, identifier,
    content = 'contacts', content_rowid = 'id', tokenize = 'trigram'
);

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

-- Contacts that exist before this migration.
INSERT INTO contacts_search (contacts_search) VALUES ('rebuild');
