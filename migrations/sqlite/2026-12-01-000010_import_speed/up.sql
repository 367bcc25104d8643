-- Contacts an import created whose duplicate-finder keys and pairs are still
-- to be computed. An import's batches only add their new contacts here (one
-- append each); `duplicates::catch_up` keys them in bulk afterwards, so a
-- big import does not pay for the finder's random index writes batch by
-- batch. A crash leaves the backlog in place for the next catch-up.
CREATE TABLE duplicate_backlog (
    contact_id INTEGER PRIMARY KEY NOT NULL REFERENCES contacts (id) ON DELETE CASCADE
);
