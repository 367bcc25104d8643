DROP TABLE notes;
DROP TABLE contact_labels;
DROP TABLE labels;
DROP TABLE contact_attribute_values;
DROP TABLE custom_attributes;
