-- SQLite only: PostgreSQL's sequences never hand out an ID twice (see the
-- SQLite migration of the same name).
SELECT 1;
