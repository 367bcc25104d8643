//! A contact as the API and event webhooks show it (interface.md "Contact"):
//! one shape, built here so the service layer can put it in events.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::attributes;
use super::contacts::{self, Contact, Extras};
use crate::db::AnyConnection;
use crate::error::AppError;

/// A contact, as the API shows it.
#[derive(Serialize, ToSchema)]
pub struct ContactJson {
    pub id: i32,
    pub name: String,
    pub email: Option<String>,
    /// E.164.
    pub phone: Option<String>,
    pub identifier: Option<String>,
    pub company: Option<String>,
    pub city: Option<String>,
    /// ISO 3166-1 alpha-2.
    pub country: Option<String>,
    #[schema(minimum = 1, maximum = 7)]
    pub status_id: i32,
    pub status: String,
    pub owner_id: Option<i32>,
    pub labels: Vec<String>,
    pub opted_out: bool,
    /// Only the keys that have a value.
    #[schema(value_type = Object)]
    pub custom_attributes: serde_json::Map<String, serde_json::Value>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_activity_at: Option<DateTime<Utc>>,
    /// The lead score: the chance of reaching Won, learnt from the team's
    /// closed contacts; 0–1 in steps of 0.001. Null when the contact has none
    /// (not scored yet, or no model could be trained).
    #[schema(minimum = 0.0, maximum = 1.0, example = 0.734)]
    pub lead_score: Option<f64>,
}

fn utc(t: NaiveDateTime) -> DateTime<Utc> {
    t.and_utc()
}

/// A per mille score (as stored) as the fraction the API shows: 734 → 0.734.
/// Division by 1000 gives the double nearest the three-decimal value, which
/// JSON writes with at most three decimals.
pub fn score_fraction(per_mille: i32) -> f64 {
    f64::from(per_mille) / 1000.0
}

impl ContactJson {
    pub fn new(c: &Contact, extras: &Extras) -> Self {
        Self {
            id: c.id,
            name: c.name.clone(),
            email: c.email.clone(),
            phone: c.phone.clone(),
            identifier: c.identifier.clone(),
            company: c.company.clone(),
            city: c.city.clone(),
            country: c.country.clone(),
            status_id: c.status_id,
            status: c.status().name().to_string(),
            owner_id: c.owner_id,
            labels: extras.labels_of(c.id).iter().map(|l| l.name.clone()).collect(),
            opted_out: c.opted_out_at.is_some(),
            custom_attributes: attributes::to_json(&extras.definitions, extras.values.get(&c.id)),
            created_at: utc(c.created_at),
            updated_at: utc(c.updated_at),
            last_activity_at: c.last_activity_at.map(utc),
            lead_score: c.lead_score.map(score_fraction),
        }
    }
}

/// Contacts as JSON, with their labels and custom attributes (two queries
/// for any number of contacts).
pub fn contacts_json(conn: &mut AnyConnection, list: &[Contact]) -> Result<Vec<ContactJson>, AppError> {
    let ids: Vec<i32> = list.iter().map(|c| c.id).collect();
    let extras = contacts::extras(conn, &ids)?;
    Ok(list.iter().map(|c| ContactJson::new(c, &extras)).collect())
}

/// One contact as JSON.
pub fn contact_json(conn: &mut AnyConnection, contact: &Contact) -> Result<ContactJson, AppError> {
    let mut all = contacts_json(conn, std::slice::from_ref(contact))?;
    all.pop().ok_or_else(|| AppError::internal("contact vanished"))
}
