//! `POST /contacts/bulk`: a bulk action on the selected rows or on
//! everything the list's filter matches (interface.md). The first POST
//! answers a confirmation page stating how many contacts will change; the
//! action runs when the form comes back with `confirm=1`.

use actix_session::Session;
use actix_web::{web, HttpResponse};
use askama::Template;

use super::auth::{CsrfForm, CurrentUser};
use super::pages::{self, Layout};
use super::AppState;
use crate::error::AppError;
use crate::service::bulk::{self, BulkAction, Selection};
use crate::service::listing::ContactQuery;

#[derive(Template)]
#[template(path = "contacts/bulk_confirm.html")]
struct ConfirmPage {
    layout: Layout,
    what: String,
    count: usize,
    all_matching: bool,
    /// Every field of the first POST, sent again with `confirm=1`.
    fields: Vec<(String, String)>,
    back: String,
}

/// The field `name`, first occurrence, trimmed.
fn field<'a>(pairs: &'a [(String, String)], name: &str) -> &'a str {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.trim())
        .unwrap_or("")
}

/// Reads the action. The page names each action's value field
/// `value.status`, `value.assign` or `value.label` (one form holds them
/// all); a plain `value` (interface.md) wins when given.
fn action_of(pairs: &[(String, String)]) -> Result<BulkAction, AppError> {
    let action = field(pairs, "action");
    let group = match action {
        "label_add" | "label_remove" => "label",
        other => other,
    };
    let value = match field(pairs, "value") {
        "" => field(pairs, &format!("value.{group}")),
        given => given,
    };
    let agents: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| k == "agents")
        .map(|(_, v)| v.clone())
        .collect();
    BulkAction::parse(action, value, &agents, field(pairs, "balance") == "1")
}

fn selection_of(pairs: &[(String, String)], query: &ContactQuery) -> Result<Selection, AppError> {
    if field(pairs, "all_matching") == "1" {
        return Ok(Selection::Matching(Box::new(query.clone())));
    }
    let mut ids = Vec::new();
    for (_, v) in pairs.iter().filter(|(k, _)| k == "ids") {
        ids.push(
            v.trim()
                .parse::<i32>()
                .map_err(|_| AppError::field("ids", "must be contact IDs"))?,
        );
    }
    if ids.is_empty() {
        return Err(AppError::field(
            "ids",
            "choose at least one contact, or apply the action to all matching",
        ));
    }
    Ok(Selection::Ids(ids))
}

pub async fn run(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    form: CsrfForm<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    bulk::require(&user.actor)?;
    let pairs = form.0;
    let mut query =
        ContactQuery::parse(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))).map_err(AppError::bad_request)?;
    query.cursor = None;
    let back = {
        let mut url = url::form_urlencoded::Serializer::new(String::new());
        url.extend_pairs(query.to_pairs());
        format!("/contacts?{}", url.finish())
    };
    // Nothing ticked: back to the same list, filter kept, with the reason
    // (a bare error page would lose the lead's filter and selection).
    if field(&pairs, "all_matching") != "1" && !pairs.iter().any(|(k, _)| k == "ids") {
        pages::flash_error(
            &session,
            "No contacts were ticked: tick the contacts to change, or choose \"Apply to all matching\".",
        );
        return Ok(pages::see_other(&back));
    }
    let action = action_of(&pairs)?;
    let selection = selection_of(&pairs, &query)?;
    let actor = user.actor.clone();
    let calling_code = state.settings.calling_code;
    if field(&pairs, "confirm") != "1" {
        let (count, names) = state
            .db({
                let (actor, selection) = (actor.clone(), selection.clone());
                move |c| {
                    Ok((
                        bulk::selected_ids(c, &actor, &selection, calling_code)?.len(),
                        bulk::user_names(c)?,
                    ))
                }
            })
            .await?;
        let fields = pairs
            .iter()
            .filter(|(k, _)| k != "csrf_token" && k != "confirm")
            .cloned()
            .collect();
        let page = ConfirmPage {
            layout: Layout::new(&user, &session, "Confirm the bulk action", "contacts"),
            what: action.describe(&names),
            count,
            all_matching: matches!(selection, Selection::Matching(_)),
            fields,
            back,
        };
        return Ok(pages::render(&page));
    }
    let (outcome, described, names) = state
        .db(move |c| {
            let outcome = bulk::run(c, &actor, &action, &selection, calling_code)?;
            let names = bulk::user_names(c)?;
            Ok((outcome, action.describe(&names), names))
        })
        .await?;
    let mut message = format!(
        "Done: {} — {} contacts, {} changed.",
        described, outcome.matched, outcome.changed
    );
    if !outcome.spread.is_empty() {
        let shares: Vec<String> = outcome
            .spread
            .iter()
            .map(|(id, n)| format!("{} {n}", names.get(id).cloned().unwrap_or_default()))
            .collect();
        message.push_str(&format!(" Each got: {}.", shares.join(", ")));
    }
    pages::flash(&session, &message);
    Ok(pages::see_other(&back))
}
