//! Pipeline insight (docs/decisions.md, "Pipeline insight"): the pipeline page (`/pipeline`), the
//! follow-up queue (`/follow-ups`) and a contact's follow-up reminder.

use actix_session::Session;
use actix_web::{web, HttpResponse};
use askama::Template;
use chrono::{NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Deserialize;

use super::auth::{CsrfForm, CurrentUser};
use super::pages::{self, local_time, Layout};
use super::AppState;
use crate::error::AppError;
use crate::service::followups;
use crate::service::lead_score;
use crate::service::pipeline::{self, Figures, STAGES};
use crate::service::status::LeadStatus;
use crate::service::users::{self, UserSummary};

/// One bar of the funnel chart, placed by the server (no script draws it).
pub struct Bar {
    pub name: &'static str,
    pub slug: &'static str,
    pub count: i64,
    pub href: String,
    pub x: i64,
    pub y: i64,
    pub width: i64,
    /// Unqualified and Lost: drawn apart, as ways out of the pipeline.
    pub exit: bool,
}

pub struct ConversionView {
    pub from: &'static str,
    pub to: &'static str,
    pub entered: i64,
    pub converted: i64,
    pub percent: String,
    pub href: String,
}

pub struct TimeView {
    pub name: &'static str,
    pub median: String,
    pub spells: i64,
    pub href: String,
}

pub struct StaleView {
    pub name: &'static str,
    pub days: i32,
    pub count: i64,
    pub href: String,
}

#[derive(Template)]
#[template(path = "pipeline.html")]
struct PipelinePage {
    layout: Layout,
    bars: Vec<Bar>,
    /// The chart's size in its own units, where the exits start, and its
    /// text alternative.
    width: i64,
    height: i64,
    exits_top: i64,
    summary: String,
    conversions: Vec<ConversionView>,
    times: Vec<TimeView>,
    stale: Vec<StaleView>,
    period_days: i32,
    periods: Vec<i32>,
    computed_at: String,
    can_refresh: bool,
    /// The last training of the lead score: when, and what it says.
    score_trained_at: Option<String>,
    score_message: String,
}

// The chart's own units (its `viewBox`); the SVG scales to its container,
// so these fix proportions, not pixels.
const CHART_WIDTH: i64 = 480;
const BAR_AREA: i64 = 280;
const BAR_LEFT: i64 = 112;
const BAR_HEIGHT: i64 = 28;
const BAR_GAP: i64 = 10;
/// Room above the exits for their heading and the rule that sets them apart.
const EXITS_GAP: i64 = 34;

/// The funnel: the stages in order, each bar as wide as its share of the
/// largest stage and centred, so the chart narrows like a funnel; then, set
/// apart under "Left the pipeline", the exits (Unqualified, Lost), drawn
/// from the left on the same scale, since they are not a later stage.
fn bars(counts: &[(LeadStatus, i64)]) -> Vec<Bar> {
    let count_of = |s: LeadStatus| counts.iter().find(|(c, _)| *c == s).map_or(0, |(_, n)| *n);
    let widest = counts.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1);
    let stages = STAGES.iter().map(|s| (*s, false));
    let exits = [LeadStatus::Unqualified, LeadStatus::Lost]
        .into_iter()
        .map(|s| (s, true));
    stages
        .chain(exits)
        .enumerate()
        .map(|(i, (status, exit))| {
            let count = count_of(status);
            let width = if count == 0 {
                0
            } else {
                (count * BAR_AREA / widest).max(2)
            };
            let y = i as i64 * (BAR_HEIGHT + BAR_GAP) + if exit { EXITS_GAP } else { 0 };
            Bar {
                name: status.name(),
                slug: status.slug(),
                count,
                href: format!("/contacts?owner=all&status={}", status.id()),
                x: if exit {
                    BAR_LEFT
                } else {
                    BAR_LEFT + (BAR_AREA - width) / 2
                },
                y,
                width,
                exit,
            }
        })
        .collect()
}

/// Where the exits' heading sits: just above the first exit bar.
fn exits_top(bars: &[Bar]) -> i64 {
    bars.iter().find(|b| b.exit).map_or(0, |b| b.y - EXITS_GAP)
}

/// A duration as a lead reads it: `3 days 4 h`, `5 h 10 min`, `12 min`.
pub fn spoken_duration(seconds: i64) -> String {
    let (days, hours, mins) = (seconds / 86_400, seconds % 86_400 / 3600, seconds % 3600 / 60);
    match (days, hours) {
        (0, 0) => format!("{mins} min"),
        (0, h) => format!("{h} h {mins} min"),
        (d, h) => format!("{d} {} {h} h", if d == 1 { "day" } else { "days" }),
    }
}

fn views(figures: &Figures) -> (Vec<ConversionView>, Vec<TimeView>, Vec<StaleView>) {
    let name = |id: i32| LeadStatus::from_id(id).map_or("?", LeadStatus::name);
    let conversions = figures
        .conversions
        .iter()
        .map(|c| ConversionView {
            from: name(c.from),
            to: name(c.to),
            entered: c.entered,
            converted: c.converted,
            percent: c.percent().map_or_else(|| "—".into(), |p| format!("{p:.0}%")),
            href: format!("/contacts?owner=all&status={}", c.to),
        })
        .collect();
    let times = figures
        .times
        .iter()
        .filter(|t| t.spells > 0)
        .map(|t| TimeView {
            name: name(t.status),
            median: t.median_seconds.map_or_else(|| "—".into(), spoken_duration),
            spells: t.spells,
            href: format!("/contacts?owner=all&status={}", t.status),
        })
        .collect();
    let stale = figures
        .stale
        .iter()
        .map(|s| StaleView {
            name: s.rule.status().name(),
            days: s.rule.days,
            count: s.count,
            href: format!("/contacts?owner=all&status={}&quiet={}", s.rule.status, s.rule.days),
        })
        .collect();
    (conversions, times, stale)
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PeriodQuery {
    period: String,
}

pub async fn page(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    query: web::Query<PeriodQuery>,
) -> Result<HttpResponse, AppError> {
    let period_days = match query.period.trim() {
        "" => 30,
        p => p
            .parse()
            .map_err(|_| AppError::bad_request("period must be a number of days"))?,
    };
    let rules = state.settings.stale_rules.clone();
    let (counts, figures, score) = state
        .db(move |c| {
            let now = Utc::now().naive_utc();
            Ok((
                pipeline::funnel(c)?,
                pipeline::figures(c, period_days, &rules, now)?,
                lead_score::latest(c)?,
            ))
        })
        .await?;
    let bars = bars(&counts);
    let list = |exit: bool| {
        bars.iter()
            .filter(|b| b.exit == exit)
            .map(|b| format!("{} {}", b.name, b.count))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let summary = format!("{}; left the pipeline: {}", list(false), list(true));
    let (conversions, times, stale) = views(&figures);
    let page = PipelinePage {
        layout: Layout::new(&user, &session, "Pipeline", "pipeline"),
        width: CHART_WIDTH,
        height: bars.last().map_or(0, |b| b.y + BAR_HEIGHT + BAR_GAP),
        exits_top: exits_top(&bars),
        bars,
        summary,
        conversions,
        times,
        stale,
        period_days,
        periods: pipeline::PERIODS.to_vec(),
        computed_at: local_time(figures.computed_at, state.settings.time_zone),
        can_refresh: user.actor.role.can_assign(),
        score_trained_at: score
            .as_ref()
            .map(|s| local_time(s.trained_at, state.settings.time_zone)),
        score_message: score.map_or_else(
            || "No lead score yet: the model has not been trained.".into(),
            |s| s.message,
        ),
    };
    Ok(pages::render(&page))
}

/// Computes every period's figures now (team leads and admins: it is a
/// heavy read at scale).
pub async fn refresh(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    _form: CsrfForm<PeriodQuery>,
) -> Result<HttpResponse, AppError> {
    user.actor
        .require(user.actor.role.can_assign(), "refresh the pipeline's figures")?;
    let rules = state.settings.stale_rules.clone();
    state
        .db(move |c| pipeline::refresh(c, &rules, Utc::now().naive_utc()))
        .await?;
    pages::flash(&session, "Pipeline figures computed again");
    Ok(pages::see_other("/pipeline"))
}

/// The lead score on a contact's page: the stored score, and the factors
/// that raised and lowered it (in log-odds points), or why there is none.
pub struct ScoreView {
    pub percent: Option<String>,
    pub raised: Vec<(String, String)>,
    pub lowered: Vec<(String, String)>,
    pub why_none: String,
}

pub fn score_view(
    conn: &mut crate::db::AnyConnection,
    contact_id: i32,
    outcomes: lead_score::Outcomes,
) -> Result<ScoreView, AppError> {
    let now = Utc::now().naive_utc();
    let latest = lead_score::latest(conn)?;
    let stored = lead_score::stored(conn, contact_id)?;
    let explanation = match (&latest, stored) {
        (Some(l), Some(_)) if l.model.is_some() => lead_score::explain(conn, contact_id, outcomes, now)?,
        _ => None,
    };
    let lines = |factors: &[lead_score::Factor]| {
        factors
            .iter()
            .map(|f| (f.text.clone(), format!("{:.2}", f.effect.abs())))
            .collect()
    };
    Ok(match (stored, explanation) {
        (Some(score), Some(e)) => ScoreView {
            percent: Some(format!("{:.0}%", f64::from(score) / 10.0)),
            raised: lines(&e.raised),
            lowered: lines(&e.lowered),
            why_none: String::new(),
        },
        _ => ScoreView {
            percent: None,
            raised: Vec::new(),
            lowered: Vec::new(),
            why_none: match latest {
                Some(l) if l.model.is_none() => l.message,
                Some(_) => "No lead score for this contact yet: it is scored at the next training.".into(),
                None => "No lead score yet: the model has not been trained.".into(),
            },
        },
    })
}

/// Trains the lead score now (team leads and admins).
pub async fn train_score(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    _form: CsrfForm<PeriodQuery>,
) -> Result<HttpResponse, AppError> {
    user.actor
        .require(user.actor.role.can_assign(), "train the lead score")?;
    let outcomes = state.settings.score_outcomes;
    let t = state
        .db(move |c| lead_score::train(c, outcomes, Utc::now().naive_utc()))
        .await?;
    pages::flash(&session, &t.message);
    Ok(pages::see_other("/pipeline"))
}

pub struct QueueRow {
    pub id: i32,
    pub name: String,
    pub status: LeadStatus,
    pub points: i64,
    pub reasons: String,
    pub follow_up: Option<String>,
}

#[derive(Template)]
#[template(path = "follow_ups.html")]
struct QueuePage {
    layout: Layout,
    rows: Vec<QueueRow>,
    total: usize,
    agent_id: i32,
    agent_name: String,
    /// Whether it is the signed-in user's own queue.
    own: bool,
    /// The members a lead may pick; empty for agents.
    team: Vec<UserSummary>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct AgentQuery {
    agent: String,
}

pub async fn follow_ups(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    query: web::Query<AgentQuery>,
) -> Result<HttpResponse, AppError> {
    let agent_id = match query.agent.trim() {
        "" => user.actor.id,
        a => a
            .parse()
            .map_err(|_| AppError::bad_request("agent must be a user ID"))?,
    };
    let actor = user.actor.clone();
    let tz = state.settings.time_zone;
    let (entries, total, team) = state
        .db(move |c| {
            let (entries, total) = followups::queue(c, &actor, agent_id, Utc::now().naive_utc())?;
            let team = if actor.role.can_assign() {
                users::team(c)?
            } else {
                Vec::new()
            };
            Ok((entries, total, team))
        })
        .await?;
    let agent_name = if agent_id == user.actor.id {
        user.actor.name.clone()
    } else {
        team.iter()
            .find(|m| m.id == agent_id)
            .map(|m| m.name.clone())
            .ok_or_else(|| AppError::not_found("team member"))?
    };
    let rows = entries
        .into_iter()
        .map(|e| QueueRow {
            id: e.candidate.id,
            name: e.candidate.name,
            status: e.candidate.status,
            points: e.points,
            reasons: e.reasons.join(" · "),
            follow_up: e.candidate.follow_up_at.map(|t| local_time(t, tz)),
        })
        .collect();
    let page = QueuePage {
        layout: Layout::new(&user, &session, "Follow-ups", "follow-ups"),
        rows,
        total,
        agent_id,
        agent_name,
        own: agent_id == user.actor.id,
        team,
    };
    Ok(pages::render(&page))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct FollowUpInput {
    at: String,
}

/// Reads a `datetime-local` value (`2026-12-03T09:30`) in the team's time
/// zone; blank clears the reminder.
pub fn parse_follow_up(text: &str, tz: Tz) -> Result<Option<NaiveDateTime>, AppError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    // The pages' own format first (`8 Dec 2026, 14:30`, as the page shows
    // it), with or without its comma; a day alone means 09:00, the start of
    // a working day; then the ISO forms integrations send.
    let spoken = text.replace(',', " ");
    let spoken = spoken.split_whitespace().collect::<Vec<_>>().join(" ");
    let local = ["%d %b %Y %H:%M", "%d %B %Y %H:%M"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(&spoken, f).ok())
        .or_else(|| crate::service::attributes::parse_day(&spoken).and_then(|d| d.and_hms_opt(9, 0, 0)))
        .or_else(|| {
            ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]
                .iter()
                .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
        })
        .ok_or_else(|| AppError::field("at", "is not a date and time such as 8 Dec 2026, 14:30"))?;
    let at = tz
        .from_local_datetime(&local)
        .earliest()
        .ok_or_else(|| AppError::field("at", "does not exist in the team's time zone (a clock change)"))?;
    Ok(Some(at.with_timezone(&Utc).naive_utc()))
}

pub async fn set_follow_up(
    state: web::Data<AppState>,
    session: Session,
    _user: CurrentUser,
    path: web::Path<i32>,
    form: CsrfForm<FollowUpInput>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let at = parse_follow_up(&form.0.at, state.settings.time_zone)?;
    state.db(move |c| followups::set(c, id, at)).await?;
    pages::flash(
        &session,
        match at {
            Some(_) => "Follow-up set",
            None => "Follow-up cleared",
        },
    );
    Ok(pages::see_other(&format!("/contacts/{id}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(spoken_duration(59), "0 min");
        assert_eq!(spoken_duration(12 * 60), "12 min");
        assert_eq!(spoken_duration(5 * 3600 + 600), "5 h 10 min");
        assert_eq!(spoken_duration(86_400 + 4 * 3600), "1 day 4 h");
        assert_eq!(spoken_duration(3 * 86_400), "3 days 0 h");
    }

    #[test]
    fn follow_up_times_are_read_in_the_team_time_zone() {
        let kl: Tz = "Asia/Kuala_Lumpur".parse().unwrap();
        let at = parse_follow_up("2026-12-03T09:30", kl).unwrap().unwrap();
        assert_eq!(at.to_string(), "2026-12-03 01:30:00");
        assert_eq!(parse_follow_up("  ", kl).unwrap(), None);
        assert!(parse_follow_up("tomorrow", kl).is_err());
        let spoken = parse_follow_up("3 Dec 2026, 09:30", kl).unwrap().unwrap();
        assert_eq!(spoken.to_string(), "2026-12-03 01:30:00", "the pages' own format");
        let day = parse_follow_up("3 Dec 2026", kl).unwrap().unwrap();
        assert_eq!(day.to_string(), "2026-12-03 01:00:00", "a day alone is 09:00 there");
    }

    #[test]
    fn the_funnel_narrows_and_centres_its_bars() {
        let b = bars(&[(LeadStatus::New, 100), (LeadStatus::Won, 25)]);
        assert_eq!(b.len(), 7);
        assert_eq!((b[0].name, b[0].width, b[0].x), ("New", 280, 112));
        assert_eq!((b[4].name, b[4].width, b[4].x), ("Won", 70, 112 + 105));
        assert_eq!(b[1].width, 0, "an empty stage has no bar");
        assert!(!b[4].exit && b[5].exit && b[6].exit, "Unqualified and Lost are exits");
        assert_eq!((b[5].name, b[5].x), ("Unqualified", 112), "exits start at the left");
        assert!(b[5].y - b[4].y > 38, "the exits are set apart from the stages");
    }
}
