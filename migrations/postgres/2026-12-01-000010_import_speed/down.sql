DROP TRIGGER contacts_count_insert ON contacts;
DROP TRIGGER contacts_count_delete ON contacts;
DROP FUNCTION contacts_count_inserted();
DROP FUNCTION contacts_count_deleted();
CREATE TRIGGER contacts_count_insert_delete AFTER INSERT OR DELETE ON contacts
    FOR EACH ROW EXECUTE FUNCTION contacts_count_status();
DROP TABLE duplicate_backlog;
