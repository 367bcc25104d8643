-- PostgreSQL only: its trigram search moves into a table beside the contacts.
-- SQLite's search (the FTS5 table contacts_search) has always lived there.
SELECT 1;
