DROP INDEX contacts_search_identifier;
DROP INDEX contacts_search_phone;
DROP INDEX contacts_search_email;
DROP INDEX contacts_search_name;
