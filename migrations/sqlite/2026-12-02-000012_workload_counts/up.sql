-- The workload grid's cells (owner × status), kept by triggers like
-- status_counts, so the grid reads a few hundred rows instead of counting a
-- million contacts. Only owned contacts are counted: a trashed contact has
-- no owner (its owner waits in contact_trash), so the trash needs no rule.
-- Rows whose total falls to 0 stay; the grid shows them as 0.
CREATE TABLE owner_status_counts (
    owner_id INTEGER NOT NULL,
    status_id INTEGER NOT NULL,
    total INTEGER NOT NULL,
    PRIMARY KEY (owner_id, status_id)
);
INSERT INTO owner_status_counts (owner_id, status_id, total)
SELECT owner_id, status_id, count(*) FROM contacts WHERE owner_id IS NOT NULL GROUP BY owner_id, status_id;

CREATE TRIGGER contacts_owner_count_insert AFTER INSERT ON contacts
WHEN NEW.owner_id IS NOT NULL
BEGIN
    INSERT INTO owner_status_counts (owner_id, status_id, total) VALUES (NEW.owner_id, NEW.status_id, 1)
    ON CONFLICT (owner_id, status_id) DO UPDATE SET total = total + 1;
END;
CREATE TRIGGER contacts_owner_count_delete AFTER DELETE ON contacts
WHEN OLD.owner_id IS NOT NULL
BEGIN
    UPDATE owner_status_counts SET total = total - 1 WHERE owner_id = OLD.owner_id AND status_id = OLD.status_id;
END;
CREATE TRIGGER contacts_owner_count_update AFTER UPDATE OF owner_id, status_id ON contacts
WHEN OLD.owner_id IS NOT NEW.owner_id OR OLD.status_id <> NEW.status_id
BEGIN
    UPDATE owner_status_counts SET total = total - 1 WHERE owner_id = OLD.owner_id AND status_id = OLD.status_id;
    INSERT INTO owner_status_counts (owner_id, status_id, total)
    SELECT NEW.owner_id, NEW.status_id, 1 WHERE NEW.owner_id IS NOT NULL
    ON CONFLICT (owner_id, status_id) DO UPDATE SET total = total + 1;
END;
