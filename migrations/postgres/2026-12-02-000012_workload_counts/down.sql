DROP TRIGGER contacts_owner_count_update ON contacts;
DROP TRIGGER contacts_owner_count_delete ON contacts;
DROP TRIGGER contacts_owner_count_insert ON contacts;
DROP FUNCTION contacts_owner_count_updated();
DROP FUNCTION contacts_owner_count_deleted();
DROP FUNCTION contacts_owner_count_inserted();
DROP TABLE owner_status_counts;
