-- The list's most used filter + sort pairs, served straight from an index:
-- one status by last activity (the API's default sort), and an agent's own
-- contacts by last activity (their default page).
CREATE INDEX contacts_status_activity ON contacts (status_id, last_activity_at, id);
CREATE INDEX contacts_owner_activity ON contacts (owner_id, last_activity_at, id);
