DROP TRIGGER contacts_owner_count_update;
DROP TRIGGER contacts_owner_count_delete;
DROP TRIGGER contacts_owner_count_insert;
DROP TABLE owner_status_counts;
