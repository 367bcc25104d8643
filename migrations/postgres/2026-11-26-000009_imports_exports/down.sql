DROP TABLE exports;
DROP TABLE import_rows;
DROP TABLE imports;
