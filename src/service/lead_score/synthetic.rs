//! A generated team history where Won depends on known features plus
//! noise, to measure the lead score against (`leadbook score generate`,
//! `bench/score`, tests/lead_score.rs).
//!
//! Each contact gets a channel, a number of messages from the customer, a
//! first reply after some hours, and the seed's `plan` and `budget`. The true
//! log-odds of winning is a fixed weighted sum of those; the outcome is drawn
//! from it, which is the noise. The generator's own AUC (its true
//! probabilities against the drawn outcomes, on the held-out fifth) is what a
//! perfect model could reach, and is reported beside the model's.

use chrono::{Duration, Utc};
use diesel::prelude::*;

use super::model;
use crate::db::schema::{
    contact_attribute_values as values, contacts, conversations, inboxes, messages, status_history,
};
use crate::db::{write_transaction, AnyConnection};
use crate::error::AppError;
use crate::service::seed;
use crate::service::status::LeadStatus;

pub struct Generated {
    pub contacts: usize,
    pub closed: usize,
    pub won: usize,
    /// The true probabilities' AUC on the held-out closed contacts.
    pub generator_auc: Option<f64>,
}

/// xorshift64*, seeded per contact, so a run is repeatable.
struct Rng(u64);
impl Rng {
    fn new(seed: u64, id: i32) -> Self {
        Rng((seed ^ (id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)) | 1)
    }
    fn unit(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The true model: what a contact's features say about its chance.
fn true_logit(whatsapp: bool, messages_in: i64, reply_hours: f64, gold: bool, budget: Option<f64>) -> f64 {
    // Scaled so that the generator's own AUC is about 0.8.
    -0.4 + 0.8
        * (if whatsapp { 0.9 } else { -0.9 } + 0.45 * (messages_in as f64 - 4.5) - 0.9 * (reply_hours.ln_1p() - 1.7)
            + if gold { 0.8 } else { 0.0 }
            + budget.map_or(-0.3, |b| 0.5 * (b - 25_000.0) / 14_000.0))
}

/// A batch insert on either backend (a batch cannot go through the
/// multi-backend connection).
macro_rules! insert {
    ($conn:expr, $table:expr, $rows:expr) => {
        match $conn {
            AnyConnection::Sqlite(c) => diesel::insert_into($table).values($rows).execute(c)?,
            AnyConnection::Postgresql(c) => diesel::insert_into($table).values($rows).execute(c)?,
        }
    };
}

/// Adds `closed` closed and `open` open contacts with their conversations,
/// messages and history.
pub fn generate(conn: &mut AnyConnection, closed: u64, open: u64, seed_value: u64) -> Result<Generated, AppError> {
    let attrs = seed::seed_attributes(conn)?;
    let before: i32 = contacts::table
        .select(diesel::dsl::max(contacts::id))
        .first::<Option<i32>>(conn)?
        .unwrap_or(0);
    seed::seed_contacts(conn, closed + open, Some(&attrs), |_| {})?;
    let now = Utc::now().naive_utc();
    let inbox = |conn: &mut AnyConnection, channel: &str| -> Result<i32, AppError> {
        Ok(diesel::insert_into(inboxes::table)
            .values((
                inboxes::name.eq(format!("Generated {channel}")),
                inboxes::channel.eq(channel),
                inboxes::delivery_kind.eq("sandbox"),
                inboxes::created_at.eq(now),
                inboxes::updated_at.eq(now),
            ))
            .returning(inboxes::id)
            .get_result(conn)?)
    };
    let (whatsapp_inbox, email_inbox) = (inbox(conn, "whatsapp")?, inbox(conn, "email")?);
    let ids: Vec<i32> = contacts::table
        .filter(contacts::id.gt(before))
        .order(contacts::id.asc())
        .select(contacts::id)
        .load(conn)?;
    let budgets: std::collections::HashMap<i32, f64> = values::table
        .filter(values::contact_id.gt(before))
        .filter(values::value_number.is_not_null())
        .select((values::contact_id, values::value_number.assume_not_null()))
        .load::<(i32, f64)>(conn)?
        .into_iter()
        .collect();
    let mut generated = Generated {
        contacts: ids.len(),
        closed: 0,
        won: 0,
        generator_auc: None,
    };
    let (mut held_p, mut held_won) = (Vec::new(), Vec::new());
    for chunk in ids.chunks(2_000) {
        let mut history = Vec::new();
        let mut convs = Vec::new();
        let mut plans = Vec::new();
        for (i, &id) in chunk.iter().enumerate() {
            let mut rng = Rng::new(seed_value, id);
            let whatsapp = rng.unit() < 0.5;
            let messages_in = 1 + (rng.unit() * 8.0) as i64;
            let reply_hours = (-rng.unit().max(1e-9).ln() * 8.0).min(200.0);
            let p = model::sigmoid(true_logit(
                whatsapp,
                messages_in,
                reply_hours,
                id % 10 == 0,
                budgets.get(&id).copied(),
            ));
            let is_closed = (id - before) as u64 <= closed;
            let won = rng.unit() < p;
            let start = now - Duration::days(40) + Duration::minutes(i as i64);
            let mut steps = vec![(LeadStatus::New, start), (LeadStatus::Reach, start + Duration::days(1))];
            if is_closed {
                let end = if won { LeadStatus::Won } else { LeadStatus::Lost };
                steps.push((end, start + Duration::days(20)));
                generated.closed += 1;
                generated.won += usize::from(won);
                if super::held_out(id) {
                    held_p.push(p);
                    held_won.push(won);
                }
            }
            let mut from = None;
            for (to, at) in &steps {
                history.push((
                    status_history::contact_id.eq(id),
                    status_history::from_id.eq(from),
                    status_history::to_id.eq(to.id()),
                    status_history::source.eq("import"),
                    status_history::at.eq(*at),
                ));
                from = Some(to.id());
            }
            plans.push((id, steps.last().map_or(LeadStatus::New, |s| s.0), start));
            convs.push((
                id,
                if whatsapp { whatsapp_inbox } else { email_inbox },
                messages_in,
                reply_hours,
                start,
            ));
        }
        write_transaction(conn, |conn| {
            diesel::delete(status_history::table.filter(status_history::contact_id.eq_any(chunk))).execute(conn)?;
            for part in history.chunks(1_000) {
                insert!(conn, status_history::table, part);
            }
            for status in LeadStatus::ALL {
                let these: Vec<i32> = plans.iter().filter(|p| p.1 == status).map(|p| p.0).collect();
                if !these.is_empty() {
                    diesel::update(contacts::table.filter(contacts::id.eq_any(these)))
                        .set(contacts::status_id.eq(status.id()))
                        .execute(conn)?;
                }
            }
            let rows: Vec<_> = convs
                .iter()
                .map(|(id, inbox, _, _, start)| {
                    (
                        conversations::contact_id.eq(*id),
                        conversations::inbox_id.eq(*inbox),
                        conversations::status.eq("resolved"),
                        conversations::unread.eq(0),
                        conversations::created_at.eq(*start),
                        conversations::updated_at.eq(*start),
                    )
                })
                .collect();
            for part in rows.chunks(1_000) {
                insert!(conn, conversations::table, part);
            }
            let conv_ids: std::collections::HashMap<i32, i32> = conversations::table
                .filter(conversations::contact_id.eq_any(chunk))
                .select((conversations::contact_id, conversations::id))
                .load::<(i32, i32)>(conn)?
                .into_iter()
                .collect();
            let mut msgs = Vec::new();
            for (id, inbox, messages_in, reply_hours, start) in &convs {
                let conv = conv_ids[id];
                let first_in = *start + Duration::hours(2);
                let mut push = |direction: &'static str, at| {
                    msgs.push((
                        messages::conversation_id.eq(conv),
                        messages::inbox_id.eq(*inbox),
                        messages::direction.eq(direction),
                        messages::body.eq("…"),
                        messages::attempts.eq(0),
                        messages::created_at.eq(at),
                    ))
                };
                for k in 0..*messages_in {
                    push("in", first_in + Duration::hours(k * 3));
                }
                push("out", first_in + Duration::seconds((reply_hours * 3600.0) as i64));
            }
            for part in msgs.chunks(1_000) {
                insert!(conn, messages::table, part);
            }
            Ok::<(), AppError>(())
        })?;
    }
    generated.generator_auc = model::auc(&held_p, &held_won);
    Ok(generated)
}
