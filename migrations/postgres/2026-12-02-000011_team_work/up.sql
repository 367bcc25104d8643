-- The trash and the activity log (see the SQLite twin).
ALTER TABLE contacts ADD COLUMN deleted_at TIMESTAMP;
CREATE INDEX contacts_trashed ON contacts (deleted_at) WHERE deleted_at IS NOT NULL;
CREATE TABLE contact_trash (
    contact_id INTEGER PRIMARY KEY REFERENCES contacts (id) ON DELETE CASCADE,
    deleted_by INTEGER REFERENCES users (id) ON DELETE SET NULL,
    email TEXT,
    phone TEXT,
    identifier TEXT,
    identities TEXT NOT NULL,
    owner_id INTEGER REFERENCES users (id) ON DELETE SET NULL
);

-- Status counts leave trashed contacts out. Updates are now counted once
-- per statement from the transition tables (a bulk status change of
-- 100,000 contacts is one statement), for changes of status and of trash.
DROP TRIGGER contacts_count_update ON contacts;

CREATE OR REPLACE FUNCTION contacts_count_deleted() RETURNS trigger AS $$
BEGIN
    UPDATE status_counts s SET total = s.total - n.total
    FROM (SELECT status_id, count(*) AS total FROM deleted_rows WHERE deleted_at IS NULL GROUP BY status_id) n
    WHERE s.status_id = n.status_id;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE FUNCTION contacts_count_updated() RETURNS trigger AS $$
BEGIN
    UPDATE status_counts s SET total = s.total + d.delta
    FROM (
        SELECT status_id, sum(delta) AS delta FROM (
            SELECT o.status_id, -1 AS delta FROM old_rows o JOIN new_rows n ON n.id = o.id
            WHERE o.deleted_at IS NULL AND (n.deleted_at IS NOT NULL OR n.status_id <> o.status_id)
            UNION ALL
            SELECT n.status_id, 1 AS delta FROM old_rows o JOIN new_rows n ON n.id = o.id
            WHERE n.deleted_at IS NULL AND (o.deleted_at IS NOT NULL OR n.status_id <> o.status_id)
        ) changes GROUP BY status_id
    ) d
    WHERE s.status_id = d.status_id AND d.delta <> 0;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER contacts_count_update AFTER UPDATE ON contacts
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION contacts_count_updated();

CREATE TABLE activity_log (
    id SERIAL PRIMARY KEY,
    at TIMESTAMP NOT NULL,
    user_id INTEGER REFERENCES users (id) ON DELETE SET NULL,
    action TEXT NOT NULL,
    contact_id INTEGER,
    count INTEGER NOT NULL,
    summary TEXT NOT NULL
);
CREATE INDEX activity_log_contact ON activity_log (contact_id, id) WHERE contact_id IS NOT NULL;
