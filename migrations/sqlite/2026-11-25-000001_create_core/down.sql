DROP TABLE status_counts;
DROP TABLE status_history;
DROP TABLE contacts;
DROP TABLE sessions;
DROP TABLE app_settings;
DROP TABLE users;
