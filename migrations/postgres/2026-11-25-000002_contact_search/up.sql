-- Substring search over name, e-mail, phone and identifier without scanning
-- the table: trigram GIN indexes that serve `lower(col) LIKE '%…%'`.
-- The SQLite twin uses an FTS5 trigram table.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX contacts_search_name ON contacts USING gin (lower(name) gin_trgm_ops);
CREATE INDEX contacts_search_email ON contacts USING gin (email gin_trgm_ops);
CREATE INDEX contacts_search_phone ON contacts USING gin (phone gin_trgm_ops);
CREATE INDEX contacts_search_identifier ON contacts USING gin (lower(identifier) gin_trgm_ops);
