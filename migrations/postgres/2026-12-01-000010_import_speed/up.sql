-- Contacts an import created whose duplicate-finder keys and pairs are still
-- to be computed (see the SQLite twin).
CREATE TABLE duplicate_backlog (
    contact_id INTEGER PRIMARY KEY REFERENCES contacts (id) ON DELETE CASCADE
);

-- Contacts per status, counted once per statement rather than once per row:
-- a row-level trigger updated the same seven rows once per inserted contact
-- (measured 15 µs a contact of an import's 72). Transition tables give the
-- statement's rows; updates of status_id stay row-level (a column list
-- cannot be combined with transition tables).
DROP TRIGGER contacts_count_insert_delete ON contacts;

CREATE FUNCTION contacts_count_inserted() RETURNS trigger AS $$
BEGIN
    UPDATE status_counts s SET total = s.total + n.total
    FROM (SELECT status_id, count(*) AS total FROM inserted_rows GROUP BY status_id) n
    WHERE s.status_id = n.status_id;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE FUNCTION contacts_count_deleted() RETURNS trigger AS $$
BEGIN
    UPDATE status_counts s SET total = s.total - n.total
    FROM (SELECT status_id, count(*) AS total FROM deleted_rows GROUP BY status_id) n
    WHERE s.status_id = n.status_id;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER contacts_count_insert AFTER INSERT ON contacts
    REFERENCING NEW TABLE AS inserted_rows
    FOR EACH STATEMENT EXECUTE FUNCTION contacts_count_inserted();
CREATE TRIGGER contacts_count_delete AFTER DELETE ON contacts
    REFERENCING OLD TABLE AS deleted_rows
    FOR EACH STATEMENT EXECUTE FUNCTION contacts_count_deleted();
