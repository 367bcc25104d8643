-- What a team knows about a contact beyond the standard attributes:
-- custom attributes (typed definitions and their values), labels and notes.
-- Keep in step with migrations/sqlite (tests/migrations.rs checks the names).

-- Admin-defined attributes. `options` is a JSON array of strings, for lists.
CREATE TABLE custom_attributes (
    id SERIAL PRIMARY KEY,
    key TEXT NOT NULL,
    display_name TEXT NOT NULL,
    description TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('text', 'number', 'date', 'link', 'boolean', 'list')),
    options TEXT NOT NULL,
    position INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX custom_attributes_key ON custom_attributes (key);

-- One row per contact and attribute that has a value. `value_text` is the
-- canonical text (dates as YYYY-MM-DD, booleans as true/false);
-- `value_key` its lower-case form cut to 200 characters, small enough for a
-- B-tree entry on either backend, for equality and date ranges;
-- `value_number` the number, for number ranges.
CREATE TABLE contact_attribute_values (
    contact_id INTEGER NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    attribute_id INTEGER NOT NULL REFERENCES custom_attributes (id) ON DELETE CASCADE,
    value_text TEXT NOT NULL,
    value_key TEXT NOT NULL,
    value_number DOUBLE PRECISION,
    -- Covering: the list's per-row check of a contact's value reads the
    -- index alone.
    PRIMARY KEY (contact_id, attribute_id) INCLUDE (value_key, value_number)
);
CREATE INDEX contact_attribute_values_key ON contact_attribute_values (attribute_id, value_key, contact_id);
CREATE INDEX contact_attribute_values_number ON contact_attribute_values (attribute_id, value_number, contact_id);

-- Labels: lower-case names, a colour (#rrggbb).
CREATE TABLE labels (
    id SERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    color TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX labels_name_key ON labels (name);

CREATE TABLE contact_labels (
    contact_id INTEGER NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    label_id INTEGER NOT NULL REFERENCES labels (id) ON DELETE CASCADE,
    PRIMARY KEY (contact_id, label_id)
);
-- Filtering by label reads the contacts that carry it.
CREATE INDEX contact_labels_label ON contact_labels (label_id, contact_id);

-- Notes, logged calls and meetings.
CREATE TABLE notes (
    id SERIAL PRIMARY KEY,
    contact_id INTEGER NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    author_id INTEGER REFERENCES users (id) ON DELETE SET NULL,
    kind TEXT NOT NULL CHECK (kind IN ('note', 'call', 'meeting')),
    body TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX notes_contact ON notes (contact_id, created_at);
