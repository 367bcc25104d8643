//! Admin settings for what contacts carry: custom attribute definitions and labels.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::auth::{CsrfForm, CurrentUser, Empty};
use super::pages::{self, FormErrors, Layout};
use super::AppState;
use crate::error::{AppError, FieldErrors};
use crate::service::attributes::{self, Definition, DefinitionInput, Kind};
use crate::service::inboxes::{self, Channel, Delivery, Inbox, InboxInput};
use crate::service::labels::{self, Label};
use crate::service::users::Role;
use crate::service::webhooks::{self, Webhook};

fn require_admin(user: &CurrentUser) -> Result<(), AppError> {
    user.actor.require(user.actor.role == Role::Admin, "change settings")
}

/// The attribute form as posted: options one per line, position as text.
#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct AttributeForm {
    key: String,
    display_name: String,
    description: String,
    #[serde(rename = "type")]
    kind: String,
    options: String,
    position: String,
}

impl AttributeForm {
    fn of(d: &Definition) -> Self {
        Self {
            key: d.key.clone(),
            display_name: d.display_name.clone(),
            description: d.description.clone(),
            kind: d.kind.as_str().into(),
            options: d.options.join("\n"),
            position: d.position.to_string(),
        }
    }

    fn input(&self) -> Result<DefinitionInput, AppError> {
        let position = match self.position.trim() {
            "" => None,
            p => Some(
                p.parse()
                    .map_err(|_| AppError::field("position", "must be a whole number"))?,
            ),
        };
        Ok(DefinitionInput {
            key: self.key.clone(),
            display_name: self.display_name.clone(),
            description: self.description.clone(),
            kind: self.kind.clone(),
            options: self.options.lines().map(str::to_string).collect(),
            position,
        })
    }
}

/// A definition in the settings table, with how many contacts hold a value.
pub struct AttributeRow {
    pub def: Definition,
    pub holders: i64,
}

#[derive(Template)]
#[template(path = "settings/attributes.html")]
struct AttributesPage {
    layout: Layout,
    rows: Vec<AttributeRow>,
    form: AttributeForm,
    errors: FormErrors,
    /// A sentence above the form (a refused change).
    problem: Option<String>,
    /// Set when editing one definition.
    editing: Option<i32>,
}

impl AttributesPage {
    fn kinds(&self) -> [Kind; 6] {
        Kind::ALL
    }
}

async fn attributes_page(
    state: &AppState,
    user: &CurrentUser,
    session: &Session,
    form: AttributeForm,
    error: Option<AppError>,
    editing: Option<i32>,
) -> Result<HttpResponse, AppError> {
    let rows = state
        .db(|c| {
            let defs = attributes::definitions(c)?;
            defs.into_iter()
                .map(|def| {
                    Ok(AttributeRow {
                        holders: attributes::holders(c, def.id)?,
                        def,
                    })
                })
                .collect::<Result<Vec<_>, AppError>>()
        })
        .await?;
    let (status, errors, problem) = match error {
        None => (StatusCode::OK, FieldErrors::new(), None),
        Some(AppError::Validation { fields, .. }) => (StatusCode::UNPROCESSABLE_ENTITY, fields, None),
        Some(AppError::Conflict(message)) => (StatusCode::CONFLICT, FieldErrors::new(), Some(message)),
        Some(other) => return Err(other),
    };
    let title = if editing.is_some() {
        "Edit custom attribute"
    } else {
        "Custom attributes"
    };
    let page = AttributesPage {
        layout: Layout::new(user, session, title, "settings"),
        rows,
        form,
        errors: FormErrors(errors),
        problem,
        editing,
    };
    Ok(pages::render_with(status, &page))
}

pub async fn attributes(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
) -> Result<HttpResponse, AppError> {
    require_admin(&user)?;
    let form = AttributeForm {
        kind: "text".into(),
        ..AttributeForm::default()
    };
    attributes_page(&state, &user, &session, form, None, None).await
}

pub async fn create_attribute(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    form: CsrfForm<AttributeForm>,
) -> Result<HttpResponse, AppError> {
    require_admin(&user)?;
    let form = form.0;
    let actor = user.actor.clone();
    let result = match form.input() {
        Ok(input) => state.db(move |c| attributes::create(c, &actor, &input)).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(def) => {
            pages::flash(&session, &format!("Custom attribute \"{}\" added", def.key));
            Ok(pages::see_other("/settings/attributes"))
        }
        Err(e) => attributes_page(&state, &user, &session, form, Some(e), None).await,
    }
}

pub async fn edit_attribute(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    path: web::Path<i32>,
) -> Result<HttpResponse, AppError> {
    require_admin(&user)?;
    let id = path.into_inner();
    let def = state.db(move |c| attributes::by_id(c, id)).await?;
    attributes_page(&state, &user, &session, AttributeForm::of(&def), None, Some(id)).await
}

pub async fn update_attribute(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    path: web::Path<i32>,
    form: CsrfForm<AttributeForm>,
) -> Result<HttpResponse, AppError> {
    require_admin(&user)?;
    let id = path.into_inner();
    let form = form.0;
    let actor = user.actor.clone();
    let result = match form.input() {
        Ok(input) => state.db(move |c| attributes::update(c, &actor, id, &input)).await,
        Err(e) => Err(e),
    };
    match result {
        Ok((def, conversion)) => {
            let report = if conversion.converted > 0 {
                format!(" ({} contacts' values converted to {})", conversion.converted, def.kind)
            } else {
                String::new()
            };
            pages::flash(&session, &format!("Custom attribute \"{}\" saved{report}", def.key));
            Ok(pages::see_other("/settings/attributes"))
        }
        Err(e) => attributes_page(&state, &user, &session, form, Some(e), Some(id)).await,
    }
}

#[derive(Template)]
#[template(path = "settings/attribute_delete.html")]
struct DeleteAttributePage {
    layout: Layout,
    def: Definition,
    holders: i64,
}

pub async fn delete_attribute_form(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    path: web::Path<i32>,
) -> Result<HttpResponse, AppError> {
    require_admin(&user)?;
    let id = path.into_inner();
    let (def, holders) = state
        .db(move |c| Ok((attributes::by_id(c, id)?, attributes::holders(c, id)?)))
        .await?;
    Ok(pages::render(&DeleteAttributePage {
        layout: Layout::new(&user, &session, format!("Delete {}", def.key), "settings"),
        def,
        holders,
    }))
}

pub async fn delete_attribute(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    path: web::Path<i32>,
    _form: CsrfForm<Empty>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let actor = user.actor.clone();
    let removed = state.db(move |c| attributes::delete(c, &actor, id)).await?;
    pages::flash(
        &session,
        &format!("Custom attribute deleted, with the values of {removed} contacts"),
    );
    Ok(pages::see_other("/settings/attributes"))
}

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct LabelForm {
    name: String,
    color: String,
}

#[derive(Template)]
#[template(path = "settings/labels.html")]
struct LabelsPage {
    layout: Layout,
    labels: Vec<Label>,
    form: LabelForm,
    errors: FormErrors,
}

async fn labels_page(
    state: &AppState,
    user: &CurrentUser,
    session: &Session,
    form: LabelForm,
    error: Option<AppError>,
) -> Result<HttpResponse, AppError> {
    let all = state.db(labels::all).await?;
    let (status, errors) = match error {
        None => (StatusCode::OK, FieldErrors::new()),
        Some(AppError::Validation { fields, .. }) => (StatusCode::UNPROCESSABLE_ENTITY, fields),
        Some(other) => return Err(other),
    };
    Ok(pages::render_with(
        status,
        &LabelsPage {
            layout: Layout::new(user, session, "Labels", "settings"),
            labels: all,
            form,
            errors: FormErrors(errors),
        },
    ))
}

pub async fn labels(state: web::Data<AppState>, user: CurrentUser, session: Session) -> Result<HttpResponse, AppError> {
    require_admin(&user)?;
    let form = LabelForm {
        color: labels::DEFAULT_COLOR.into(),
        ..LabelForm::default()
    };
    labels_page(&state, &user, &session, form, None).await
}

pub async fn create_label(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    form: CsrfForm<LabelForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.0;
    let (actor, name, color) = (user.actor.clone(), form.name.clone(), form.color.clone());
    match state.db(move |c| labels::create(c, &actor, &name, &color)).await {
        Ok(label) => {
            pages::flash(&session, &format!("Label \"{}\" added", label.name));
            Ok(pages::see_other("/settings/labels"))
        }
        Err(e) => labels_page(&state, &user, &session, form, Some(e)).await,
    }
}

pub async fn update_label(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    path: web::Path<i32>,
    form: CsrfForm<LabelForm>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let form = form.0;
    let (actor, name, color) = (user.actor.clone(), form.name.clone(), form.color.clone());
    match state.db(move |c| labels::update(c, &actor, id, &name, &color)).await {
        Ok(label) => {
            pages::flash(&session, &format!("Label \"{}\" saved", label.name));
            Ok(pages::see_other("/settings/labels"))
        }
        Err(e) => labels_page(&state, &user, &session, form, Some(e)).await,
    }
}

pub async fn delete_label(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    path: web::Path<i32>,
    _form: CsrfForm<Empty>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let actor = user.actor.clone();
    let removed = state.db(move |c| labels::delete(c, &actor, id)).await?;
    pages::flash(&session, &format!("Label deleted (it was on {removed} contacts)"));
    Ok(pages::see_other("/settings/labels"))
}

/// `GET /labels.css`: one rule per label colour, so chips need no inline
/// styles (the content security policy forbids them). Text is black or
/// white, whichever reads better on the colour.
pub async fn label_styles(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let all = state.db(labels::all).await?;
    let mut css = String::new();
    for label in all {
        let text = if is_light(&label.color) { "#111827" } else { "#ffffff" };
        css.push_str(&format!(
            ".label-{}{{background:{};color:{text}}}\n",
            label.id, label.color
        ));
    }
    Ok(HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header(("Cache-Control", "no-cache"))
        .body(css))
}

/// Relative luminance above the midpoint (WCAG's formula, simplified).
fn is_light(color: &str) -> bool {
    let hex = color.trim_start_matches('#');
    let channel = |i: usize| u8::from_str_radix(hex.get(i..i + 2).unwrap_or("0"), 16).unwrap_or(0) as f64 / 255.0;
    let lin = |c: f64| {
        if c <= 0.03928 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    let l = 0.2126 * lin(channel(0)) + 0.7152 * lin(channel(2)) + 0.0722 * lin(channel(4));
    l > 0.179
}

#[cfg(test)]
mod tests {
    #[test]
    fn chip_text_contrasts_with_its_colour() {
        assert!(super::is_light("#ffffff"));
        assert!(super::is_light("#d4a017"));
        assert!(!super::is_light("#1e3a8a"));
        assert!(!super::is_light("#000000"));
    }
}

#[derive(Template)]
#[template(path = "settings/inboxes.html")]
struct InboxesPage {
    layout: Layout,
    inboxes: Vec<Inbox>,
    form: InboxInput,
    errors: FormErrors,
}

impl InboxesPage {
    fn channels(&self) -> [Channel; 6] {
        Channel::ALL
    }
}

async fn inboxes_page(
    state: &AppState,
    user: &CurrentUser,
    session: &Session,
    form: InboxInput,
    error: Option<AppError>,
) -> Result<HttpResponse, AppError> {
    let all = state.db(inboxes::all).await?;
    let (status, errors) = match error {
        None => (StatusCode::OK, FieldErrors::new()),
        Some(AppError::Validation { fields, .. }) => (StatusCode::UNPROCESSABLE_ENTITY, fields),
        Some(other) => return Err(other),
    };
    Ok(pages::render_with(
        status,
        &InboxesPage {
            layout: Layout::new(user, session, "Inboxes", "settings"),
            inboxes: all,
            form,
            errors: FormErrors(errors),
        },
    ))
}

pub async fn inboxes(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
) -> Result<HttpResponse, AppError> {
    require_admin(&user)?;
    let form = InboxInput {
        channel: "whatsapp".into(),
        delivery_kind: "sandbox".into(),
        ..InboxInput::default()
    };
    inboxes_page(&state, &user, &session, form, None).await
}

pub async fn create_inbox(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    form: CsrfForm<InboxInput>,
) -> Result<HttpResponse, AppError> {
    let form = form.0;
    let (actor, input) = (user.actor.clone(), form.clone());
    match state.db(move |c| inboxes::create(c, &actor, &input)).await {
        Ok(inbox) => {
            pages::flash(
                &session,
                &format!("Inbox \"{}\" connected (ID {})", inbox.name, inbox.id),
            );
            Ok(pages::see_other("/settings/inboxes"))
        }
        Err(e) => inboxes_page(&state, &user, &session, form, Some(e)).await,
    }
}

pub async fn delete_inbox(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    path: web::Path<i32>,
    _form: CsrfForm<Empty>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let actor = user.actor.clone();
    state.db(move |c| inboxes::delete(c, &actor, id)).await?;
    pages::flash(&session, "Inbox deleted, with its conversations");
    Ok(pages::see_other("/settings/inboxes"))
}

#[derive(Template)]
#[template(path = "settings/webhooks.html")]
struct WebhooksPage {
    layout: Layout,
    webhooks: Vec<Webhook>,
    events: [&'static str; 5],
    /// The secret of the webhook just made, shown this once.
    new_secret: Option<String>,
    url: String,
    errors: FormErrors,
}

async fn webhooks_page(
    state: &AppState,
    user: &CurrentUser,
    session: &Session,
    status: StatusCode,
    new_secret: Option<String>,
    url: String,
    errors: FieldErrors,
) -> Result<HttpResponse, AppError> {
    let actor = user.actor.clone();
    let all = state.db(move |c| webhooks::all(c, &actor)).await?;
    Ok(pages::render_with(
        status,
        &WebhooksPage {
            layout: Layout::new(user, session, "Event webhooks", "settings"),
            webhooks: all,
            events: webhooks::EVENTS,
            new_secret,
            url,
            errors: FormErrors(errors),
        },
    ))
}

pub async fn webhooks(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
) -> Result<HttpResponse, AppError> {
    require_admin(&user)?;
    webhooks_page(
        &state,
        &user,
        &session,
        StatusCode::OK,
        None,
        String::new(),
        FieldErrors::new(),
    )
    .await
}

/// Registers a webhook and answers 201 with its secret in the page (never
/// stored in the session, shown once).
pub async fn create_webhook(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    form: CsrfForm<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let url = form
        .0
        .iter()
        .find(|(k, _)| k == "url")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let events: Vec<String> = form
        .0
        .iter()
        .filter(|(k, _)| k == "events")
        .map(|(_, v)| v.clone())
        .collect();
    let actor = user.actor.clone();
    let u = url.clone();
    match state.db(move |c| webhooks::create(c, &actor, &u, &events)).await {
        Ok((_, secret)) => {
            webhooks_page(
                &state,
                &user,
                &session,
                StatusCode::CREATED,
                Some(secret),
                String::new(),
                FieldErrors::new(),
            )
            .await
        }
        Err(AppError::Validation { fields, .. }) => {
            webhooks_page(
                &state,
                &user,
                &session,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                url,
                fields,
            )
            .await
        }
        Err(e) => Err(e),
    }
}

pub async fn delete_webhook(
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    path: web::Path<i32>,
    _form: CsrfForm<Empty>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let actor = user.actor.clone();
    state.db(move |c| webhooks::delete(c, &actor, id)).await?;
    pages::flash(&session, "Webhook deleted");
    Ok(pages::see_other("/settings/webhooks"))
}
