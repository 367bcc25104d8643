-- Inboxes (connected channels), the contacts' identities in them, their
-- conversations and messages. Keep in step with migrations/sqlite.

CREATE TABLE inboxes (
    id SERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    channel TEXT NOT NULL CHECK (channel IN ('whatsapp', 'messenger', 'instagram', 'email', 'webchat', 'sms')),
    delivery_kind TEXT NOT NULL CHECK (delivery_kind IN ('webhook', 'sandbox')),
    -- Where a webhook adapter POSTs outgoing messages; NULL for the sandbox.
    delivery_url TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

-- A contact's sender ID in one inbox (its phone for WhatsApp, a page-scoped
-- ID for Messenger…). One contact per identity, enforced here.
CREATE TABLE contact_identities (
    id SERIAL PRIMARY KEY,
    contact_id INTEGER NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    inbox_id INTEGER NOT NULL REFERENCES inboxes (id) ON DELETE CASCADE,
    source_id TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX contact_identities_source ON contact_identities (inbox_id, source_id);
CREATE INDEX contact_identities_contact ON contact_identities (contact_id);

CREATE TABLE conversations (
    id SERIAL PRIMARY KEY,
    contact_id INTEGER NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    inbox_id INTEGER NOT NULL REFERENCES inboxes (id) ON DELETE CASCADE,
    status TEXT NOT NULL CHECK (status IN ('open', 'resolved')),
    -- Incoming messages nobody has read yet (reset when someone opens it).
    unread INTEGER NOT NULL,
    last_message_at TIMESTAMP,
    -- The customer's last message: WhatsApp's 24-hour reply window runs from it.
    last_incoming_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
-- At most one open conversation per contact and inbox.
CREATE UNIQUE INDEX conversations_one_open ON conversations (contact_id, inbox_id) WHERE status = 'open';
CREATE INDEX conversations_contact ON conversations (contact_id, inbox_id);
-- The menu's unread badge sums only the conversations that have some.
CREATE INDEX conversations_unread ON conversations (unread) WHERE unread > 0;

CREATE TABLE messages (
    id SERIAL PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    inbox_id INTEGER NOT NULL REFERENCES inboxes (id) ON DELETE CASCADE,
    direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
    body TEXT NOT NULL,
    -- The channel bridge's own ID of an incoming message: sending it again
    -- stores nothing.
    external_id TEXT,
    -- Outgoing messages only: queued, sent or failed, with the retry state.
    delivery TEXT CHECK (delivery IN ('queued', 'sent', 'failed')),
    attempts INTEGER NOT NULL,
    next_attempt_at TIMESTAMP,
    author_id INTEGER REFERENCES users (id) ON DELETE SET NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX messages_external ON messages (inbox_id, external_id);
CREATE INDEX messages_conversation ON messages (conversation_id, id);
-- The delivery worker's queue: queued messages by when they are due.
CREATE INDEX messages_due ON messages (next_attempt_at) WHERE delivery = 'queued';

-- A contact that does not want messages from one inbox (contacts.opted_out_at
-- covers every channel).
CREATE TABLE contact_opt_outs (
    contact_id INTEGER NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    inbox_id INTEGER NOT NULL REFERENCES inboxes (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (contact_id, inbox_id)
);

-- Event webhooks: URLs that receive signed contact events. The secret is
-- kept (it signs every delivery) and shown once, when the webhook is made.
CREATE TABLE webhooks (
    id SERIAL PRIMARY KEY,
    url TEXT NOT NULL,
    -- JSON array of event names.
    events TEXT NOT NULL,
    secret TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

-- The durable queue of event deliveries, retried like messages.
CREATE TABLE webhook_deliveries (
    id SERIAL PRIMARY KEY,
    webhook_id INTEGER NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    payload TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued', 'sent', 'failed')),
    attempts INTEGER NOT NULL,
    next_attempt_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE state = 'queued';
