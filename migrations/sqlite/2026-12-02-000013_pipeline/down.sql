DROP TABLE pipeline_snapshots;
DROP TABLE lead_models;
DROP INDEX status_history_at;
ALTER TABLE conversations DROP COLUMN last_outbound_at;
DROP INDEX contacts_score_sort;
ALTER TABLE contacts DROP COLUMN lead_score;
DROP INDEX contacts_follow_up;
ALTER TABLE contacts DROP COLUMN follow_up_at;
