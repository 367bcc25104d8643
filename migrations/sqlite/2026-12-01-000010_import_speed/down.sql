DROP TABLE duplicate_backlog;
