-- Pipeline insight (product.md §7).
-- A follow-up reminder: one per contact, on the contact itself, so a merge
-- and its undo carry it like any other field.
ALTER TABLE contacts ADD COLUMN follow_up_at TIMESTAMP;
CREATE INDEX contacts_follow_up ON contacts (owner_id, follow_up_at) WHERE follow_up_at IS NOT NULL;
-- The lead score, per mille (0–1000), written by each training; NULL when
-- no model could be trained. An integer so the list's keyset cursor is exact.
ALTER TABLE contacts ADD COLUMN lead_score INTEGER;
CREATE INDEX contacts_score_sort ON contacts (lead_score, id);
-- When we last wrote to the customer in a conversation: the stale rule and
-- the follow-up queue read it instead of scanning messages.
ALTER TABLE conversations ADD COLUMN last_outbound_at TIMESTAMP;
UPDATE conversations SET last_outbound_at = (
    SELECT MAX(m.created_at) FROM messages m
    WHERE m.conversation_id = conversations.id AND m.direction = 'out');
-- Conversion and time in stage read the history by period.
CREATE INDEX status_history_at ON status_history (at);
-- Each training of the lead score: what it learnt from, and the model
-- itself (JSON), or why there is none.
CREATE TABLE lead_models (
    id SERIAL PRIMARY KEY,
    trained_at TIMESTAMP NOT NULL,
    closed INTEGER NOT NULL,
    won INTEGER NOT NULL,
    auc DOUBLE PRECISION,
    model TEXT,
    message TEXT NOT NULL
);
-- The pipeline's figures for a period, computed in the background (they read
-- the whole history) and shown with the time they were computed.
CREATE TABLE pipeline_snapshots (
    period_days INTEGER PRIMARY KEY NOT NULL,
    computed_at TIMESTAMP NOT NULL,
    figures TEXT NOT NULL
);
