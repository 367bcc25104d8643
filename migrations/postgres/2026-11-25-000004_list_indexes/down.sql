DROP INDEX contacts_owner_activity;
DROP INDEX contacts_status_activity;
