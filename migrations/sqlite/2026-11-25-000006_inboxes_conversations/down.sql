DROP TABLE messages;
DROP TABLE conversations;
DROP TABLE contact_identities;
DROP TABLE inboxes;
