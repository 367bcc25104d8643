-- The list's owner sort (issue 24) walks owners in name order, each
-- owner's contacts in ID order: `owner_id = ? AND id > ? ORDER BY id LIMIT
-- 51` is a range read of this index at any depth. (owner_id, status_id, id)
-- orders an owner's contacts by status first, so it would sort each
-- owner's contacts, up to all of them, for every page. Unassigned contacts
-- (owner_id IS NULL) are in the index too.
CREATE INDEX contacts_owner_sort ON contacts (owner_id, id);
