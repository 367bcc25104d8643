DROP TABLE seed_duplicates;
DROP TABLE duplicate_pairs;
DROP TABLE contact_match_keys;
DROP TABLE merges;
