-- Imports and exports (product.md §6). Keep in step with migrations/sqlite.

-- One row per import: who, which file, how its columns were read, where it
-- stands (checking → ready → committing → done, or failed), the counts the
-- dry run promised and those the commit reached. The commit moves
-- `cursor_person` and the counts forward in the same transaction as each
-- batch it writes, so an import cut off by a crash resumes where it stopped.
CREATE TABLE imports (
    id SERIAL PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id),
    file_name TEXT NOT NULL,
    state TEXT NOT NULL,
    error TEXT,
    delimiter TEXT NOT NULL DEFAULT ',',
    header TEXT NOT NULL DEFAULT '[]',
    mapping TEXT NOT NULL DEFAULT '[]',
    total_rows BIGINT NOT NULL DEFAULT 0,
    done_rows BIGINT NOT NULL DEFAULT 0,
    cursor_person BIGINT NOT NULL DEFAULT 0,
    planned_created BIGINT NOT NULL DEFAULT 0,
    planned_updated BIGINT NOT NULL DEFAULT 0,
    planned_skipped BIGINT NOT NULL DEFAULT 0,
    planned_rejected BIGINT NOT NULL DEFAULT 0,
    created BIGINT NOT NULL DEFAULT 0,
    updated BIGINT NOT NULL DEFAULT 0,
    skipped BIGINT NOT NULL DEFAULT 0,
    rejected BIGINT NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP
);

-- The staging area: every row of the file as it was (a JSON array of its
-- cells), keyed by the person it folds into (the line of that person's
-- first row) so that the check and the commit read each person's rows
-- together. `read_error` is a problem of the row itself (ragged, not
-- UTF-8, joins two people); `check_error` one of its folded person.
CREATE TABLE import_rows (
    import_id INTEGER NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
    person BIGINT NOT NULL,
    line BIGINT NOT NULL,
    cells TEXT NOT NULL,
    read_error TEXT,
    check_error TEXT,
    PRIMARY KEY (import_id, person, line)
);

-- One row per export: who (NULL for the command line), what filter, how many rows.
CREATE TABLE exports (
    id SERIAL PRIMARY KEY,
    user_id INTEGER REFERENCES users (id) ON DELETE SET NULL,
    filter TEXT NOT NULL,
    row_count BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
