//! The pipeline page's figures (docs/decisions.md, "Pipeline insight"): contacts per status, the
//! conversion between stages over a period, the median time in each stage
//! from the status history, and the stale leads of each rule.
//!
//! Contacts per status come live from `status_counts`. The rest reads the
//! history of the whole period, which at a million contacts takes seconds,
//! so it is computed in the background (`refresh`, every
//! `PIPELINE_REFRESH_SECS`, and when a lead asks) and kept in
//! `pipeline_snapshots`; the page shows when it was computed.
//!
//! Definitions (docs/decisions.md, "The pipeline page"):
//! - the stages in order are New → Reach → Qualified → Negotiating → Won;
//!   Unqualified and Lost leave the pipeline;
//! - a contact *entered* a stage in the period when its history has a change
//!   into that stage in the period (a contact created in a stage has one);
//! - of those, it *converted* when a later change took it to any later
//!   stage (Negotiating → Won counts for Negotiating, and a Reach contact that
//!   skips straight to Negotiating converted from Reach);
//! - the time in a stage is from the change into it to the next change, for
//!   the spells that ended in the period; the median of those is shown;
//! - a contact is stale under a rule (say Negotiating, 7 days) when it is in
//!   that status, is older than the rule's days, and no message was sent to
//!   it in that time.

use std::str::FromStr;

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Nullable, Timestamp};
use serde::{Deserialize, Serialize};

use super::listing;
use super::status::LeadStatus;
use crate::db::schema::pipeline_snapshots;
use crate::db::{write_transaction, AnyConnection};
use crate::error::AppError;

/// The stages in order; Unqualified and Lost are exits.
pub const STAGES: [LeadStatus; 5] = [
    LeadStatus::New,
    LeadStatus::Reach,
    LeadStatus::Qualified,
    LeadStatus::Negotiating,
    LeadStatus::Won,
];

/// The periods the page offers, in days.
pub const PERIODS: [i32; 4] = [7, 30, 90, 365];

/// A stale rule: contacts in `status` with no message sent for `days`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaleRule {
    pub status: i32,
    pub days: i32,
}

impl StaleRule {
    pub fn status(&self) -> LeadStatus {
        LeadStatus::from_id(self.status).unwrap_or(LeadStatus::New)
    }

    /// Reads `STALE_RULES`: `status:days` pairs, comma-separated, status by
    /// name or ID (`negotiating:7,qualified:14`).
    pub fn parse_list(text: &str) -> Result<Vec<Self>, String> {
        text.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|rule| {
                let (status, days) = rule
                    .split_once(':')
                    .ok_or_else(|| format!("STALE_RULES: `{rule}` is not status:days"))?;
                let status = LeadStatus::parse(status.trim()).map_err(|e| format!("STALE_RULES: {e}"))?;
                let days = i32::from_str(days.trim())
                    .ok()
                    .filter(|d| (1..=3650).contains(d))
                    .ok_or_else(|| format!("STALE_RULES: `{rule}` needs a number of days from 1 to 3650"))?;
                Ok(Self {
                    status: status.id(),
                    days,
                })
            })
            .collect()
    }
}

/// Conversion from one stage to the next.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conversion {
    pub from: i32,
    pub to: i32,
    pub entered: i64,
    pub converted: i64,
}

impl Conversion {
    /// The share converted, in percent; `None` when nobody entered.
    pub fn percent(&self) -> Option<f64> {
        (self.entered > 0).then(|| 100.0 * self.converted as f64 / self.entered as f64)
    }
}

/// The time contacts spent in one status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageTime {
    pub status: i32,
    /// The median, in seconds; `None` when no spell ended in the period.
    pub median_seconds: Option<i64>,
    pub spells: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stale {
    pub rule: StaleRule,
    pub count: i64,
}

/// What the background computes for one period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Figures {
    pub period_days: i32,
    pub computed_at: NaiveDateTime,
    pub conversions: Vec<Conversion>,
    pub times: Vec<StageTime>,
    pub stale: Vec<Stale>,
}

/// The stage's place in `STAGES`; `None` for the exits.
fn rank(status_id: i32) -> Option<usize> {
    STAGES.iter().position(|s| s.id() == status_id)
}

#[derive(QueryableByName)]
struct Counted {
    #[diesel(sql_type = BigInt)]
    entered: i64,
    #[diesel(sql_type = BigInt)]
    converted: i64,
}

#[derive(QueryableByName)]
struct Spell {
    #[diesel(sql_type = Nullable<Integer>)]
    status: Option<i32>,
    #[diesel(sql_type = Nullable<Timestamp>)]
    started: Option<NaiveDateTime>,
    #[diesel(sql_type = Timestamp)]
    ended: NaiveDateTime,
}

/// Conversion of each stage into the later ones, for changes since `since`.
fn conversions(conn: &mut AnyConnection, since: NaiveDateTime) -> Result<Vec<Conversion>, AppError> {
    let mut out = Vec::new();
    for pair in STAGES.windows(2) {
        let (from, to) = (pair[0], pair[1]);
        let later: Vec<String> = STAGES[rank(from.id()).unwrap_or(0) + 1..]
            .iter()
            .map(|s| s.id().to_string())
            .collect();
        // The stage IDs are our own constants, never input; the period is bound.
        let sql = format!(
            "SELECT COUNT(DISTINCT h.contact_id) AS entered, \
             COUNT(DISTINCT CASE WHEN EXISTS (SELECT 1 FROM status_history l \
                WHERE l.contact_id = h.contact_id AND l.id > h.id AND l.to_id IN ({})) \
             THEN h.contact_id END) AS converted \
             FROM status_history h JOIN contacts c ON c.id = h.contact_id AND c.deleted_at IS NULL \
             WHERE h.to_id = {} AND h.at >= ",
            later.join(", "),
            from.id()
        );
        let counted: Counted = match conn {
            AnyConnection::Sqlite(c) => diesel::sql_query(sql + "?").bind::<Timestamp, _>(since).get_result(c)?,
            AnyConnection::Postgresql(c) => diesel::sql_query(sql + "$1")
                .bind::<Timestamp, _>(since)
                .get_result(c)?,
        };
        out.push(Conversion {
            from: from.id(),
            to: to.id(),
            entered: counted.entered,
            converted: counted.converted,
        });
    }
    Ok(out)
}

/// The median of each status's spells that ended since `since`.
fn times(conn: &mut AnyConnection, since: NaiveDateTime) -> Result<Vec<StageTime>, AppError> {
    // Each change in the period ends the spell its previous change began.
    const SQL: &str = "SELECT p.to_id AS status, p.at AS started, n.at AS ended \
         FROM status_history n \
         JOIN contacts c ON c.id = n.contact_id AND c.deleted_at IS NULL \
         JOIN status_history p ON p.id = (SELECT MAX(x.id) FROM status_history x \
            WHERE x.contact_id = n.contact_id AND x.id < n.id) \
         WHERE n.at >= ";
    let spells: Vec<Spell> = match conn {
        AnyConnection::Sqlite(c) => diesel::sql_query(format!("{SQL}?"))
            .bind::<Timestamp, _>(since)
            .load(c)?,
        AnyConnection::Postgresql(c) => diesel::sql_query(format!("{SQL}$1"))
            .bind::<Timestamp, _>(since)
            .load(c)?,
    };
    let mut by_status: Vec<Vec<i64>> = vec![Vec::new(); LeadStatus::ALL.len()];
    for s in spells {
        let (Some(status), Some(started)) = (s.status, s.started) else {
            continue;
        };
        if let Some(i) = LeadStatus::ALL.iter().position(|l| l.id() == status) {
            by_status[i].push((s.ended - started).num_seconds().max(0));
        }
    }
    Ok(LeadStatus::ALL
        .iter()
        .zip(by_status)
        .map(|(status, mut secs)| StageTime {
            status: status.id(),
            spells: secs.len() as i64,
            median_seconds: median(&mut secs),
        })
        .collect())
}

/// The median (the mean of the middle two for an even count).
pub fn median(values: &mut [i64]) -> Option<i64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2
    })
}

/// The contacts stale under `rule`: the list's own filter (`status` and
/// `quiet`) counted, so the figure and the list it links to agree. The
/// filter reads the clock itself.
fn stale(conn: &mut AnyConnection, rule: StaleRule) -> Result<i64, AppError> {
    let (status, days) = (rule.status.to_string(), rule.days.to_string());
    let query = listing::ContactQuery::parse([("owner", "all"), ("status", status.as_str()), ("quiet", days.as_str())])
        .map_err(AppError::internal)?;
    listing::count(conn, &query, 0, 0)
}

/// Computes the figures of the `period_days` up to `now`.
pub fn compute(
    conn: &mut AnyConnection,
    period_days: i32,
    rules: &[StaleRule],
    now: NaiveDateTime,
) -> Result<Figures, AppError> {
    let since = now - Duration::days(period_days.into());
    let mut stale_counts = Vec::new();
    for &rule in rules {
        stale_counts.push(Stale {
            rule,
            count: stale(conn, rule)?,
        });
    }
    Ok(Figures {
        period_days,
        computed_at: now,
        conversions: conversions(conn, since)?,
        times: times(conn, since)?,
        stale: stale_counts,
    })
}

/// Computes the figures again every `every`, on a thread of its own (the
/// reads take seconds at a million contacts; pages never wait for them).
pub fn refresh_in_background(pool: crate::db::Pool, rules: Vec<StaleRule>, every: std::time::Duration) {
    std::thread::spawn(move || loop {
        std::thread::sleep(every);
        let done = pool
            .get()
            .map_err(AppError::internal)
            .and_then(|mut conn| refresh(&mut conn, &rules, chrono::Utc::now().naive_utc()));
        if let Err(e) = done {
            tracing::warn!(error = %e, "pipeline figures not refreshed");
        }
    });
}

/// Computes and keeps the figures of every period the page offers.
pub fn refresh(conn: &mut AnyConnection, rules: &[StaleRule], now: NaiveDateTime) -> Result<(), AppError> {
    for days in PERIODS {
        let figures = compute(conn, days, rules, now)?;
        store(conn, &figures)?;
    }
    Ok(())
}

fn store(conn: &mut AnyConnection, figures: &Figures) -> Result<(), AppError> {
    let body = serde_json::to_string(figures).map_err(AppError::internal)?;
    write_transaction(conn, |conn| {
        diesel::delete(pipeline_snapshots::table.find(figures.period_days)).execute(conn)?;
        diesel::insert_into(pipeline_snapshots::table)
            .values((
                pipeline_snapshots::period_days.eq(figures.period_days),
                pipeline_snapshots::computed_at.eq(figures.computed_at),
                pipeline_snapshots::figures.eq(body),
            ))
            .execute(conn)?;
        Ok(())
    })
}

/// The kept figures of a period, computed now when there are none yet or
/// when the rules changed since (a restart with new `STALE_RULES`).
pub fn figures(
    conn: &mut AnyConnection,
    period_days: i32,
    rules: &[StaleRule],
    now: NaiveDateTime,
) -> Result<Figures, AppError> {
    if !PERIODS.contains(&period_days) {
        return Err(AppError::bad_request(format!(
            "period must be one of {} days",
            PERIODS.map(|d| d.to_string()).join(", ")
        )));
    }
    let kept: Option<String> = pipeline_snapshots::table
        .find(period_days)
        .select(pipeline_snapshots::figures)
        .first(conn)
        .optional()?;
    if let Some(f) = kept.and_then(|k| serde_json::from_str::<Figures>(&k).ok()) {
        if f.stale.iter().map(|s| s.rule).eq(rules.iter().copied()) {
            return Ok(f);
        }
    }
    let f = compute(conn, period_days, rules, now)?;
    store(conn, &f)?;
    Ok(f)
}

/// Contacts per status, live, in `LeadStatus::ALL` order.
pub fn funnel(conn: &mut AnyConnection) -> Result<Vec<(LeadStatus, i64)>, AppError> {
    listing::status_counts(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_of_odd_and_even_counts() {
        assert_eq!(median(&mut []), None);
        assert_eq!(median(&mut [5, 1, 3]), Some(3));
        assert_eq!(median(&mut [4, 1, 3, 2]), Some(2));
    }

    #[test]
    fn stale_rules_read_names_or_ids_and_refuse_nonsense() {
        assert_eq!(
            StaleRule::parse_list("negotiating:7, 3:14").unwrap(),
            [StaleRule { status: 5, days: 7 }, StaleRule { status: 3, days: 14 }]
        );
        assert!(StaleRule::parse_list("negotiating").is_err());
        assert!(StaleRule::parse_list("negotiating:0").is_err());
        assert!(StaleRule::parse_list("closing:7").is_err());
        assert_eq!(StaleRule::parse_list("").unwrap(), []);
    }
}
