//! The lead score (docs/decisions.md, "Pipeline insight"): the probability that a contact reaches
//! Won, learnt from the team's own closed contacts.
//!
//! - **Learns from** live contacts that are Won (a success) or Lost (a
//!   failure), and Unqualified as a failure when `LEAD_SCORE_UNQUALIFIED` says
//!   so. Below `MIN_CLOSED` closed contacts, or `MIN_EACH` of either outcome,
//!   there is no model and no score, and the pipeline page says why.
//! - **Features** (`facts`, encoded by `Feature`): the first channel, whether
//!   and how fast we first replied, messages each way, days in each open
//!   stage, and custom attributes of number, boolean and list type. Counts and
//!   durations are taken as `ln(1 + x)`; every feature is standardised on the
//!   training set, so a weight reads as "per typical difference".
//! - **Model** (`model`): L2-regularised logistic regression. Quality is the
//!   AUC on the fifth of the closed contacts held out (`held_out`) by a fit
//!   on the rest; the kept model is then fitted on all of them.
//! - **Scores** are written to `contact_scores` (per mille) for every
//!   live contact, closed ones included (an ad tool wants the lookalikes of
//!   won customers, and the won themselves rank first), only where they
//!   changed.
//! - **Explained** on the details page: each feature's contribution,
//!   `weight × standardised value`, is what it adds to or takes from the
//!   log-odds against an average contact of the training set.

pub mod facts;
pub mod model;
pub mod synthetic;

use std::collections::HashMap;
use std::time::Instant;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use self::facts::{AttrFact, Attribute, Facts, TIMED_STAGES};
use crate::db::schema::{contact_scores, contacts, lead_models};
use crate::db::{write_transaction, AnyConnection};
use crate::error::AppError;
use crate::service::status::LeadStatus;

/// Fewer closed contacts than this, and a model would be noise.
pub const MIN_CLOSED: usize = 40;
/// At least this many of each outcome.
pub const MIN_EACH: usize = 10;
/// Scores written per statement.
const WRITE_CHUNK: usize = 5_000;

/// Which closed contacts the model learns from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outcomes {
    /// Count Unqualified contacts as lost ones.
    pub unqualified_as_lost: bool,
}

impl Outcomes {
    pub fn closes(self) -> Vec<LeadStatus> {
        let mut closes = vec![LeadStatus::Won, LeadStatus::Lost];
        if self.unqualified_as_lost {
            closes.push(LeadStatus::Unqualified);
        }
        closes
    }

    fn outcome(self, status_id: i32) -> Option<bool> {
        match LeadStatus::from_id(status_id)? {
            LeadStatus::Won => Some(true),
            LeadStatus::Lost => Some(false),
            LeadStatus::Unqualified if self.unqualified_as_lost => Some(false),
            _ => None,
        }
    }
}

/// One input of the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Input {
    Channel {
        channel: String,
    },
    Replied,
    ReplyHours,
    MessagesIn,
    MessagesOut,
    DaysIn {
        status_id: i32,
    },
    Number {
        attribute_id: i32,
        name: String,
    },
    NumberMissing {
        attribute_id: i32,
        name: String,
    },
    Boolean {
        attribute_id: i32,
        name: String,
        value: bool,
    },
    Choice {
        attribute_id: i32,
        name: String,
        option: String,
    },
}

impl Input {
    /// The raw value; None where the training mean stands in (a number
    /// attribute the contact has no value for).
    fn raw(&self, f: &Facts) -> Option<f64> {
        let flag = |b: bool| Some(if b { 1.0 } else { 0.0 });
        match self {
            Input::Channel { channel } => flag(f.channel.as_deref() == Some(channel)),
            Input::Replied => flag(f.first_reply_hours.is_some()),
            Input::ReplyHours => Some(f.first_reply_hours.map_or(0.0, f64::ln_1p)),
            Input::MessagesIn => Some((f.messages_in as f64).ln_1p()),
            Input::MessagesOut => Some((f.messages_out as f64).ln_1p()),
            Input::DaysIn { status_id } => {
                let slot = TIMED_STAGES.iter().position(|s| s.id() == *status_id)?;
                Some(f.stage_days[slot].ln_1p())
            }
            Input::Number { attribute_id, .. } => match f.attributes.get(attribute_id) {
                Some(AttrFact::Number(n)) => Some(*n),
                _ => None,
            },
            Input::NumberMissing { attribute_id, .. } => {
                flag(!matches!(f.attributes.get(attribute_id), Some(AttrFact::Number(_))))
            }
            Input::Boolean {
                attribute_id, value, ..
            } => flag(f.attributes.get(attribute_id) == Some(&AttrFact::Boolean(*value))),
            Input::Choice {
                attribute_id, option, ..
            } => flag(matches!(f.attributes.get(attribute_id), Some(AttrFact::Choice(o)) if o == option)),
        }
    }

    /// How the details page names this input for a contact.
    pub fn describe(&self, f: &Facts) -> String {
        let stage = |id: i32| LeadStatus::from_id(id).map_or("?", LeadStatus::name);
        match self {
            Input::Channel { channel } if f.channel.as_deref() == Some(channel) => format!("First wrote on {channel}"),
            Input::Channel { channel } => format!("Did not first write on {channel}"),
            Input::Replied | Input::ReplyHours => match f.first_reply_hours {
                Some(h) if h < 1.0 => format!("First reply after {} min", (h * 60.0).round()),
                Some(h) => format!("First reply after {h:.0} h"),
                None => "No reply to the customer yet".into(),
            },
            Input::MessagesIn => format!("{} messages from the customer", f.messages_in),
            Input::MessagesOut => format!("{} messages to the customer", f.messages_out),
            Input::DaysIn { status_id } => {
                let days = TIMED_STAGES
                    .iter()
                    .position(|s| s.id() == *status_id)
                    .map_or(0.0, |i| f.stage_days[i]);
                format!("{days:.0} days in {}", stage(*status_id))
            }
            Input::Number { attribute_id, name } => match f.attributes.get(attribute_id) {
                Some(AttrFact::Number(n)) => format!("{name}: {n}"),
                _ => format!("{name}: not set"),
            },
            Input::NumberMissing { name, .. } => match self.raw(f) {
                Some(1.0) => format!("{name}: not set"),
                _ => format!("{name}: set"),
            },
            Input::Boolean { name, value, .. } => match f.attributes.get(&self.attribute().unwrap_or(0)) {
                Some(AttrFact::Boolean(b)) => format!("{name}: {}", if *b { "yes" } else { "no" }),
                _ => format!("{name}: not {}", if *value { "yes" } else { "no" }),
            },
            Input::Choice { name, option, .. } => match f.attributes.get(&self.attribute().unwrap_or(0)) {
                Some(AttrFact::Choice(o)) if o == option => format!("{name}: {o}"),
                _ => format!("{name}: not {option}"),
            },
        }
    }

    fn attribute(&self) -> Option<i32> {
        match self {
            Input::Number { attribute_id, .. }
            | Input::NumberMissing { attribute_id, .. }
            | Input::Boolean { attribute_id, .. }
            | Input::Choice { attribute_id, .. } => Some(*attribute_id),
            _ => None,
        }
    }
}

/// An input with its standardisation and weight.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Feature {
    pub input: Input,
    pub mean: f64,
    pub scale: f64,
    pub weight: f64,
}

/// A trained model as `lead_models.model` keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeadModel {
    pub intercept: f64,
    pub features: Vec<Feature>,
}

impl LeadModel {
    fn standardised(&self, f: &Facts) -> Vec<f64> {
        self.features
            .iter()
            .map(|x| x.input.raw(f).map_or(0.0, |v| (v - x.mean) / x.scale))
            .collect()
    }

    pub fn probability(&self, f: &Facts) -> f64 {
        let z = self.standardised(f);
        let t: f64 = self.intercept + self.features.iter().zip(&z).map(|(x, z)| x.weight * z).sum::<f64>();
        model::sigmoid(t)
    }
}

/// The inputs the training data supports, standardised on it. An input
/// that does not vary there (one channel only, say) tells nothing and is
/// left out.
fn inputs(training: &[&Facts], attributes: &[Attribute]) -> Vec<(Input, f64, f64)> {
    let mut candidates = vec![Input::Replied, Input::ReplyHours, Input::MessagesIn, Input::MessagesOut];
    let mut channels: Vec<&str> = training.iter().filter_map(|f| f.channel.as_deref()).collect();
    channels.sort_unstable();
    channels.dedup();
    candidates.extend(channels.into_iter().map(|c| Input::Channel { channel: c.to_string() }));
    candidates.extend(TIMED_STAGES.iter().map(|s| Input::DaysIn { status_id: s.id() }));
    for a in attributes {
        let (attribute_id, name) = (a.id, a.name.clone());
        match a.kind.as_str() {
            "number" => {
                candidates.push(Input::Number {
                    attribute_id,
                    name: name.clone(),
                });
                candidates.push(Input::NumberMissing { attribute_id, name });
            }
            "boolean" => candidates.extend([true, false].map(|value| Input::Boolean {
                attribute_id,
                name: name.clone(),
                value,
            })),
            _ => {
                let mut options: Vec<&str> = training
                    .iter()
                    .filter_map(|f| match f.attributes.get(&attribute_id) {
                        Some(AttrFact::Choice(o)) => Some(o.as_str()),
                        _ => None,
                    })
                    .collect();
                options.sort_unstable();
                options.dedup();
                candidates.extend(options.into_iter().map(|o| Input::Choice {
                    attribute_id,
                    name: name.clone(),
                    option: o.to_string(),
                }));
            }
        }
    }
    candidates
        .into_iter()
        .filter_map(|input| {
            let values: Vec<f64> = training.iter().filter_map(|f| input.raw(f)).collect();
            if values.len() < 2 {
                return None;
            }
            let mean = values.iter().sum::<f64>() / values.len() as f64;
            let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / values.len() as f64;
            (var > 1e-12).then(|| (input, mean, var.sqrt()))
        })
        .collect()
}

/// Fits a model to `training`.
pub fn fit(training: &[&Facts], outcomes: Outcomes, attributes: &[Attribute]) -> LeadModel {
    let inputs = inputs(training, attributes);
    let shell = LeadModel {
        intercept: 0.0,
        features: inputs
            .into_iter()
            .map(|(input, mean, scale)| Feature {
                input,
                mean,
                scale,
                weight: 0.0,
            })
            .collect(),
    };
    let rows: Vec<Vec<f64>> = training.iter().map(|f| shell.standardised(f)).collect();
    let won: Vec<bool> = training
        .iter()
        .map(|f| outcomes.outcome(f.status_id) == Some(true))
        .collect();
    let fitted = model::fit(&rows, &won, model::DEFAULT_L2);
    LeadModel {
        intercept: fitted.intercept,
        features: shell
            .features
            .into_iter()
            .zip(fitted.weights)
            .map(|(f, weight)| Feature { weight, ..f })
            .collect(),
    }
}

/// What a training did, as `lead_models` keeps it.
#[derive(Debug, Clone)]
pub struct Training {
    pub trained_at: NaiveDateTime,
    pub closed: i64,
    pub won: i64,
    /// Held-out AUC; None without a model or without both outcomes held out.
    pub auc: Option<f64>,
    pub model: Option<LeadModel>,
    /// What the page says: how it went, or why there is no score.
    pub message: String,
    /// Scores written (changed) by this training.
    pub written: usize,
    pub seconds: f64,
}

/// Learns from the closed contacts, writes every live contact's score, and
/// keeps the model; without enough closed contacts, clears the scores and
/// keeps why.
pub fn train(conn: &mut AnyConnection, outcomes: Outcomes, now: NaiveDateTime) -> Result<Training, AppError> {
    let started = Instant::now();
    let all = facts::load_all(conn, None, &outcomes.closes(), now)?;
    let attributes = facts::attributes(conn)?;
    let closed: Vec<&Facts> = all.iter().filter(|f| outcomes.outcome(f.status_id).is_some()).collect();
    let won = closed
        .iter()
        .filter(|f| outcomes.outcome(f.status_id) == Some(true))
        .count();
    let lost = closed.len() - won;
    let mut training = Training {
        trained_at: now,
        closed: closed.len() as i64,
        won: won as i64,
        auc: None,
        model: None,
        message: String::new(),
        written: 0,
        seconds: 0.0,
    };
    if closed.len() < MIN_CLOSED || won < MIN_EACH || lost < MIN_EACH {
        training.message = format!(
            "No lead score yet: it needs at least {MIN_CLOSED} closed contacts with at least {MIN_EACH} Won and \
             {MIN_EACH} {}; the team has {won} Won and {lost} {}.",
            lost_name(outcomes),
            lost_name(outcomes)
        );
    } else {
        let (held, kept): (Vec<&Facts>, Vec<&Facts>) = closed.iter().partition(|f| held_out(f.contact_id));
        let trial = fit(&kept, outcomes, &attributes);
        let scores: Vec<f64> = held.iter().map(|f| trial.probability(f)).collect();
        let truth: Vec<bool> = held
            .iter()
            .map(|f| outcomes.outcome(f.status_id) == Some(true))
            .collect();
        training.auc = model::auc(&scores, &truth);
        let model = fit(&closed, outcomes, &attributes);
        training.message = format!(
            "Learnt from {} closed contacts ({won} Won, {lost} {}); {}.",
            closed.len(),
            lost_name(outcomes),
            training.auc.map_or_else(
                || "too few held out to measure".into(),
                |a| format!("AUC {a:.2} on the fifth held out")
            )
        );
        training.model = Some(model);
    }
    training.written = write_scores(conn, &all, training.model.as_ref())?;
    training.seconds = started.elapsed().as_secs_f64();
    keep(conn, &training)?;
    Ok(training)
}

/// The fifth of the closed contacts a training holds out to measure itself:
/// chosen by a hash of the ID, so that it is repeatable but unrelated to
/// anything else an ID may go with (the seed's plans follow ID mod 10).
pub fn held_out(contact_id: i32) -> bool {
    ((contact_id as u32 as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32).is_multiple_of(5)
}

fn lost_name(outcomes: Outcomes) -> &'static str {
    if outcomes.unqualified_as_lost {
        "Lost or Unqualified"
    } else {
        "Lost"
    }
}

/// The contact's kept score, per mille; `None` when it has none.
pub fn stored(conn: &mut AnyConnection, contact_id: i32) -> Result<Option<i32>, AppError> {
    Ok(contact_scores::table
        .find(contact_id)
        .select(contact_scores::score)
        .first(conn)
        .optional()?)
}

/// Per mille, as the list sorts and pages by it.
pub fn per_mille(p: f64) -> i32 {
    (p * 1000.0).round().clamp(0.0, 1000.0) as i32
}

/// Writes the changed scores in one transaction (a list read meanwhile sees
/// the old scores or the new ones, not a mix).
fn write_scores(conn: &mut AnyConnection, all: &[Facts], model: Option<&LeadModel>) -> Result<usize, AppError> {
    let changed: Vec<(i32, Option<i32>)> = all
        .iter()
        .filter_map(|f| {
            let score = model.map(|m| per_mille(m.probability(f)));
            (score != f.lead_score).then_some((f.contact_id, score))
        })
        .collect();
    write_transaction(conn, |conn| {
        for chunk in changed.chunks(WRITE_CHUNK) {
            let (cleared, scored): (Vec<_>, Vec<_>) = chunk.iter().partition(|(_, s)| s.is_none());
            if !cleared.is_empty() {
                let ids: Vec<i32> = cleared.iter().map(|(id, _)| *id).collect();
                diesel::delete(contact_scores::table.filter(contact_scores::contact_id.eq_any(ids))).execute(conn)?;
            }
            if scored.is_empty() {
                continue;
            }
            // IDs and scores are integers we computed, so they are written
            // into the statement: 10,000 bound parameters would exceed
            // SQLite's limit for no safety gain.
            let values = scored
                .iter()
                .map(|(id, s)| format!("({id}, {})", s.unwrap_or(0)))
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!(
                "INSERT INTO contact_scores (contact_id, score) VALUES {values} \
                 ON CONFLICT (contact_id) DO UPDATE SET score = excluded.score"
            );
            match conn {
                AnyConnection::Sqlite(c) => diesel::sql_query(sql).execute(c)?,
                AnyConnection::Postgresql(c) => diesel::sql_query(sql).execute(c)?,
            };
        }
        // A trashed contact is nobody's lookalike.
        diesel::delete(
            contact_scores::table.filter(
                contact_scores::contact_id.eq_any(
                    contacts::table
                        .filter(contacts::deleted_at.is_not_null())
                        .select(contacts::id),
                ),
            ),
        )
        .execute(conn)?;
        Ok(changed.len())
    })
}

fn keep(conn: &mut AnyConnection, t: &Training) -> Result<(), AppError> {
    let model = t
        .model
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(AppError::internal)?;
    diesel::insert_into(lead_models::table)
        .values((
            lead_models::trained_at.eq(t.trained_at),
            lead_models::closed.eq(t.closed as i32),
            lead_models::won.eq(t.won as i32),
            lead_models::auc.eq(t.auc),
            lead_models::model.eq(model),
            lead_models::message.eq(&t.message),
        ))
        .execute(conn)?;
    Ok(())
}

/// The last training, as the pages show it.
#[derive(Debug, Clone)]
pub struct Latest {
    pub trained_at: NaiveDateTime,
    pub closed: i32,
    pub won: i32,
    pub auc: Option<f64>,
    pub model: Option<LeadModel>,
    pub message: String,
}

pub fn latest(conn: &mut AnyConnection) -> Result<Option<Latest>, AppError> {
    type Row = (NaiveDateTime, i32, i32, Option<f64>, Option<String>, String);
    let row: Option<Row> = lead_models::table
        .order(lead_models::id.desc())
        .select((
            lead_models::trained_at,
            lead_models::closed,
            lead_models::won,
            lead_models::auc,
            lead_models::model,
            lead_models::message,
        ))
        .first(conn)
        .optional()?;
    Ok(row.map(|(trained_at, closed, won, auc, model, message)| Latest {
        trained_at,
        closed,
        won,
        auc,
        model: model.and_then(|m| serde_json::from_str(&m).ok()),
        message,
    }))
}

/// One reason on the details page.
#[derive(Debug, Clone, PartialEq)]
pub struct Factor {
    pub text: String,
    /// What it adds to the log-odds against an average contact.
    pub effect: f64,
}

#[derive(Debug, Clone)]
pub struct Explanation {
    /// The score as of now (it may differ from the stored one by what
    /// happened since the last training).
    pub probability: f64,
    pub raised: Vec<Factor>,
    pub lowered: Vec<Factor>,
}

/// Factors smaller than this (in log-odds) are not worth a line.
const NOTABLE: f64 = 0.05;
const FACTORS_SHOWN: usize = 4;

/// Why a contact scores what it does; None without a model.
pub fn explain(
    conn: &mut AnyConnection,
    contact_id: i32,
    outcomes: Outcomes,
    now: NaiveDateTime,
) -> Result<Option<Explanation>, AppError> {
    let Some(model) = latest(conn)?.and_then(|l| l.model) else {
        return Ok(None);
    };
    let Some(f) = facts::load_all(conn, Some(contact_id), &outcomes.closes(), now)?.pop() else {
        return Ok(None);
    };
    let z = model.standardised(&f);
    // The reply indicator and its delay describe one fact: one line.
    let mut merged: HashMap<String, f64> = HashMap::new();
    for (feature, z) in model.features.iter().zip(z) {
        *merged.entry(feature.input.describe(&f)).or_default() += feature.weight * z;
    }
    let mut factors: Vec<Factor> = merged
        .into_iter()
        .map(|(text, effect)| Factor { text, effect })
        .collect();
    factors.sort_by(|a, b| b.effect.abs().total_cmp(&a.effect.abs()).then(a.text.cmp(&b.text)));
    let pick = |raising: bool| -> Vec<Factor> {
        factors
            .iter()
            .filter(|x| x.effect.abs() >= NOTABLE && (x.effect > 0.0) == raising)
            .take(FACTORS_SHOWN)
            .cloned()
            .collect()
    };
    Ok(Some(Explanation {
        probability: model.probability(&f),
        raised: pick(true),
        lowered: pick(false),
    }))
}

/// Trains again every `every`, on a thread of its own.
pub fn train_in_background(pool: crate::db::Pool, outcomes: Outcomes, every: std::time::Duration) {
    std::thread::spawn(move || loop {
        std::thread::sleep(every);
        let done = pool
            .get()
            .map_err(AppError::internal)
            .and_then(|mut conn| train(&mut conn, outcomes, chrono::Utc::now().naive_utc()));
        match done {
            Ok(t) => tracing::info!(closed = t.closed, auc = ?t.auc, written = t.written, "lead score trained"),
            Err(e) => tracing::warn!(error = %e, "lead score not trained"),
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contact(id: i32, status: LeadStatus, messages_in: i64) -> Facts {
        Facts {
            contact_id: id,
            status_id: status.id(),
            lead_score: None,
            channel: Some(if id % 2 == 0 { "whatsapp" } else { "email" }.into()),
            first_reply_hours: (id % 3 != 0).then_some(2.0),
            messages_in,
            messages_out: 1,
            stage_days: [1.0, 2.0, 0.0, 0.0],
            attributes: HashMap::new(),
        }
    }

    #[test]
    fn a_model_learns_that_more_messages_win_and_explains_it() {
        let all: Vec<Facts> = (1..=200)
            .map(|i| {
                let won = i % 4 != 0 && i > 100;
                contact(
                    i,
                    if won { LeadStatus::Won } else { LeadStatus::Lost },
                    if won { 8 } else { 1 } + i64::from(i % 3),
                )
            })
            .collect();
        let refs: Vec<&Facts> = all.iter().collect();
        let m = fit(&refs, Outcomes::default(), &[]);
        let talkative = contact(1000, LeadStatus::New, 10);
        let quiet = contact(1001, LeadStatus::New, 0);
        assert!(m.probability(&talkative) > 0.8, "{m:?}");
        assert!(m.probability(&quiet) < 0.2, "{m:?}");
        let w = m.features.iter().find(|f| f.input == Input::MessagesIn).unwrap().weight;
        assert!(w > 0.0);
        // A constant input (messages out) is left out.
        assert!(!m.features.iter().any(|f| f.input == Input::MessagesOut));
    }

    #[test]
    fn unqualified_counts_as_lost_only_when_chosen() {
        assert_eq!(Outcomes::default().outcome(LeadStatus::Unqualified.id()), None);
        let chosen = Outcomes {
            unqualified_as_lost: true,
        };
        assert_eq!(chosen.outcome(LeadStatus::Unqualified.id()), Some(false));
        assert_eq!(chosen.outcome(LeadStatus::Won.id()), Some(true));
        assert_eq!(chosen.outcome(LeadStatus::Negotiating.id()), None);
    }

    #[test]
    fn per_mille_rounds_and_stays_in_range() {
        assert_eq!(per_mille(0.7345), 735);
        assert_eq!(per_mille(1.2), 1000);
        assert_eq!(per_mille(-0.1), 0);
    }
}
