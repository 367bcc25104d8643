-- The workload grid's cells (see the SQLite twin), counted once per
-- statement from the transition tables, as status_counts are.
CREATE TABLE owner_status_counts (
    owner_id INTEGER NOT NULL,
    status_id INTEGER NOT NULL,
    total INTEGER NOT NULL,
    PRIMARY KEY (owner_id, status_id)
);
INSERT INTO owner_status_counts (owner_id, status_id, total)
SELECT owner_id, status_id, count(*) FROM contacts WHERE owner_id IS NOT NULL GROUP BY owner_id, status_id;

CREATE FUNCTION contacts_owner_count_inserted() RETURNS trigger AS $$
BEGIN
    INSERT INTO owner_status_counts (owner_id, status_id, total)
    SELECT owner_id, status_id, count(*) FROM inserted_rows WHERE owner_id IS NOT NULL
    GROUP BY owner_id, status_id ORDER BY owner_id, status_id
    ON CONFLICT (owner_id, status_id) DO UPDATE SET total = owner_status_counts.total + EXCLUDED.total;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE FUNCTION contacts_owner_count_deleted() RETURNS trigger AS $$
BEGIN
    UPDATE owner_status_counts s SET total = s.total - n.total
    FROM (SELECT owner_id, status_id, count(*) AS total FROM deleted_rows
          WHERE owner_id IS NOT NULL GROUP BY owner_id, status_id) n
    WHERE s.owner_id = n.owner_id AND s.status_id = n.status_id;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE FUNCTION contacts_owner_count_updated() RETURNS trigger AS $$
BEGIN
    INSERT INTO owner_status_counts (owner_id, status_id, total)
    SELECT owner_id, status_id, sum(delta) FROM (
        SELECT o.owner_id, o.status_id, -1 AS delta FROM old_rows o JOIN new_rows n ON n.id = o.id
        WHERE o.owner_id IS NOT NULL AND (n.owner_id IS DISTINCT FROM o.owner_id OR n.status_id <> o.status_id)
        UNION ALL
        SELECT n.owner_id, n.status_id, 1 AS delta FROM old_rows o JOIN new_rows n ON n.id = o.id
        WHERE n.owner_id IS NOT NULL AND (n.owner_id IS DISTINCT FROM o.owner_id OR n.status_id <> o.status_id)
    ) changes
    GROUP BY owner_id, status_id HAVING sum(delta) <> 0 ORDER BY owner_id, status_id
    ON CONFLICT (owner_id, status_id) DO UPDATE SET total = owner_status_counts.total + EXCLUDED.total;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER contacts_owner_count_insert AFTER INSERT ON contacts
    REFERENCING NEW TABLE AS inserted_rows
    FOR EACH STATEMENT EXECUTE FUNCTION contacts_owner_count_inserted();
CREATE TRIGGER contacts_owner_count_delete AFTER DELETE ON contacts
    REFERENCING OLD TABLE AS deleted_rows
    FOR EACH STATEMENT EXECUTE FUNCTION contacts_owner_count_deleted();
CREATE TRIGGER contacts_owner_count_update AFTER UPDATE ON contacts
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION contacts_owner_count_updated();
