DROP TABLE webhook_deliveries;
DROP TABLE webhooks;
DROP TABLE contact_opt_outs;
DROP TABLE messages;
DROP TABLE conversations;
DROP TABLE contact_identities;
DROP TABLE inboxes;
