//! The shared service layer: every rule and query of leadbook, used alike by
//! the pages, the JSON API and the command line. No actix here.

pub mod activity;
pub mod attributes;
pub mod bulk;
pub mod contact_fields;
pub mod contact_json;
pub mod contacts;
pub mod conversations;
pub mod duplicates;
pub mod export;
pub mod followups;
pub mod import;
pub mod inboxes;
pub mod labels;
pub mod lead_score;
pub mod listing;
pub mod merge;
pub mod messaging;
pub mod notes;
pub mod pipeline;
pub mod secret;
pub mod seed;
pub mod sessions;
pub mod status;
pub mod tokens;
pub mod trash;
pub mod users;
pub mod webhooks;
pub mod workload;
