-- Users, their server-side sessions, contacts and the status history.
-- Keep in step with migrations/sqlite (tests/migrations.rs checks the names).

CREATE TABLE users (
    id SERIAL PRIMARY KEY,
    email TEXT NOT NULL,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('agent', 'lead', 'admin')),
    password_hash TEXT NOT NULL,
    disabled_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX users_email_key ON users (email);

-- Key/value settings shared by every instance (e.g. the session signing key).
CREATE TABLE app_settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- The id is the SHA-256 of the cookie's session key, so a copy of the table
-- cannot be used to take over a session.
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    user_id INTEGER REFERENCES users (id) ON DELETE CASCADE,
    state TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX sessions_user_id ON sessions (user_id);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

CREATE TABLE contacts (
    id SERIAL PRIMARY KEY,
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
CREATE UNIQUE INDEX contacts_email_key ON contacts (email);
CREATE UNIQUE INDEX contacts_phone_key ON contacts (phone);
CREATE UNIQUE INDEX contacts_identifier_key ON contacts (identifier);
-- One index per list sort; the trailing id makes keyset paging exact.
CREATE INDEX contacts_status_sort ON contacts (status_id, id);
CREATE INDEX contacts_owner_status_sort ON contacts (owner_id, status_id, id);
CREATE INDEX contacts_name_sort ON contacts (name, id);
CREATE INDEX contacts_created_sort ON contacts (created_at, id);
CREATE INDEX contacts_activity_sort ON contacts (last_activity_at, id);

CREATE TABLE status_history (
    id SERIAL PRIMARY KEY,
    contact_id INTEGER NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    from_id INTEGER,
    to_id INTEGER NOT NULL,
    source TEXT NOT NULL CHECK (source IN ('manual', 'automation', 'chatbot', 'api', 'import', 'merge')),
    user_id INTEGER REFERENCES users (id) ON DELETE SET NULL,
    at TIMESTAMP NOT NULL
);
CREATE INDEX status_history_contact ON status_history (contact_id, id);

-- Contacts per status, kept exact by triggers so the list never counts a
-- million rows on each request.
CREATE TABLE status_counts (
    status_id INTEGER PRIMARY KEY,
    total INTEGER NOT NULL
);
INSERT INTO status_counts (status_id, total) VALUES (1, 0), (2, 0), (3, 0), (4, 0), (5, 0), (6, 0), (7, 0);

CREATE FUNCTION contacts_count_status() RETURNS trigger AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE status_counts SET total = total - 1 WHERE status_id = OLD.status_id;
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        UPDATE status_counts SET total = total + 1 WHERE status_id = NEW.status_id;
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER contacts_count_insert_delete AFTER INSERT OR DELETE ON contacts
    FOR EACH ROW EXECUTE FUNCTION contacts_count_status();
CREATE TRIGGER contacts_count_update AFTER UPDATE OF status_id ON contacts
    FOR EACH ROW WHEN (OLD.status_id IS DISTINCT FROM NEW.status_id)
    EXECUTE FUNCTION contacts_count_status();
