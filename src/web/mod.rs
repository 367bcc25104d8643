//! The HTML pages: actix handlers, one module per area, routes in one place.

pub mod api;
pub mod auth;
pub mod bulk;
pub mod contacts;
pub mod conversations;
pub mod duplicates;
pub mod export;
pub mod imports;
pub mod merges;
pub mod notes;
pub mod pages;
pub mod pipeline;
pub mod profile;
pub mod rate_limit;
pub mod security;
pub mod session_store;
pub mod settings;
pub mod team;
pub mod trash;
pub mod users;

use std::sync::Arc;

use actix_web::{web, HttpResponse};

use crate::config::Settings;
use crate::db::{AnyConnection, Pool};
use crate::error::AppError;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub pool: Pool,
    pub settings: Arc<Settings>,
    /// Wakes this instance's delivery worker when a message is queued.
    pub delivery: Arc<tokio::sync::Notify>,
    /// This instance's rate limits (sign-in, API).
    pub limits: Arc<rate_limit::RateLimits>,
}

impl AppState {
    /// Runs blocking database work on the thread pool, with a pooled connection.
    pub async fn db<T, F>(&self, work: F) -> Result<T, AppError>
    where
        T: Send + 'static,
        F: FnOnce(&mut AnyConnection) -> Result<T, AppError> + Send + 'static,
    {
        let pool = self.pool.clone();
        web::block(move || {
            let mut conn = pool.get()?;
            work(&mut conn)
        })
        .await?
    }
}

/// Every route of the pages.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::PathConfig::default().error_handler(|_, _| AppError::not_found("This page").into()))
        .app_data(web::QueryConfig::default().error_handler(|e, _| AppError::bad_request(e.to_string()).into()))
        .service(api::scope())
        .service(actix_files::Files::new(
            "/static",
            concat!(env!("CARGO_MANIFEST_DIR"), "/static"),
        ))
        .route("/healthz", web::get().to(healthz))
        .route("/", web::get().to(|| async { pages::see_other("/contacts") }))
        .route("/setup", web::get().to(auth::setup_form))
        .route("/setup", web::post().to(auth::setup))
        .route("/login", web::get().to(auth::login_form))
        .route("/login", web::post().to(auth::login))
        .route("/logout", web::post().to(auth::logout))
        .route("/contacts", web::get().to(contacts::list))
        .route("/contacts", web::post().to(contacts::create))
        .route("/contacts/new", web::get().to(contacts::new_form))
        .route("/contacts/duplicates", web::get().to(duplicates::list))
        .route("/contacts/bulk", web::post().to(bulk::run))
        .route("/trash", web::get().to(trash::list))
        .route("/trash/{id}/restore", web::post().to(trash::restore))
        .route("/team", web::get().to(team::grid))
        .route("/pipeline", web::get().to(pipeline::page))
        .route("/pipeline/refresh", web::post().to(pipeline::refresh))
        .route("/pipeline/score", web::post().to(pipeline::train_score))
        .route("/follow-ups", web::get().to(pipeline::follow_ups))
        .route("/settings/users", web::get().to(users::list))
        .route("/settings/users", web::post().to(users::add))
        .route("/settings/users/{id}/role", web::post().to(users::set_role))
        .route("/settings/users/{id}/disable", web::post().to(users::disable))
        .route("/settings/users/{id}/enable", web::post().to(users::enable))
        .route("/settings/users/{id}/password", web::post().to(users::reset_password))
        .route("/settings/activity", web::get().to(users::activity_log))
        .route("/profile/name", web::post().to(users::rename_self))
        .route("/profile/password", web::post().to(users::change_own_password))
        .route("/contacts/export.csv", web::get().to(export::download))
        .route("/contacts/{id}", web::get().to(contacts::show))
        .route("/contacts/{id}", web::post().to(contacts::update))
        .route("/contacts/{id}/edit", web::get().to(contacts::edit_form))
        .route("/contacts/{id}/status", web::post().to(contacts::set_status))
        .route("/contacts/{id}/owner", web::post().to(contacts::assign))
        .route("/contacts/{id}/follow-up", web::post().to(pipeline::set_follow_up))
        .route("/contacts/{id}/delete", web::get().to(contacts::delete_form))
        .route("/contacts/{id}/delete", web::post().to(contacts::delete))
        .route("/contacts/{id}/merge", web::get().to(merges::dialog))
        .route("/contacts/{id}/merge", web::post().to(merges::merge))
        .route("/imports/new", web::get().to(imports::new_form))
        .route("/imports", web::post().to(imports::upload))
        .route("/imports/{id}", web::get().to(imports::show))
        .route("/imports/{id}/commit", web::post().to(imports::commit))
        .route("/imports/{id}/progress", web::get().to(imports::progress))
        .route("/imports/{id}/rejected.csv", web::get().to(imports::rejected_csv))
        .route("/merges", web::get().to(merges::log))
        .route("/merges/{id}/undo", web::post().to(merges::undo))
        .route("/contacts/{id}/labels", web::post().to(notes::set_labels))
        .route("/contacts/{id}/notes", web::post().to(notes::add))
        .route("/notes/{id}", web::post().to(notes::update))
        .route("/notes/{id}/edit", web::get().to(notes::edit_form))
        .route("/notes/{id}/delete", web::post().to(notes::delete))
        .route("/contacts/{id}/messages/new", web::get().to(conversations::new_message))
        .route("/contacts/{id}/messages", web::post().to(conversations::send))
        .route("/contacts/{id}/opt-outs", web::post().to(conversations::opt_out))
        .route("/settings/webhooks", web::get().to(settings::webhooks))
        .route("/settings/webhooks", web::post().to(settings::create_webhook))
        .route(
            "/settings/webhooks/{id}/delete",
            web::post().to(settings::delete_webhook),
        )
        .route("/conversations", web::get().to(conversations::list))
        .route("/conversations/{id}", web::get().to(conversations::show))
        .route("/conversations/{id}/messages", web::post().to(conversations::reply))
        .route("/conversations/{id}/resolve", web::post().to(conversations::resolve))
        .route("/settings/inboxes", web::get().to(settings::inboxes))
        .route("/settings/inboxes", web::post().to(settings::create_inbox))
        .route("/settings/inboxes/{id}/delete", web::post().to(settings::delete_inbox))
        .route("/labels.css", web::get().to(settings::label_styles))
        .route("/settings/attributes", web::get().to(settings::attributes))
        .route("/settings/attributes", web::post().to(settings::create_attribute))
        .route("/settings/attributes/{id}", web::get().to(settings::edit_attribute))
        .route("/settings/attributes/{id}", web::post().to(settings::update_attribute))
        .route(
            "/settings/attributes/{id}/delete",
            web::get().to(settings::delete_attribute_form),
        )
        .route(
            "/settings/attributes/{id}/delete",
            web::post().to(settings::delete_attribute),
        )
        .route("/settings/labels", web::get().to(settings::labels))
        .route("/settings/labels", web::post().to(settings::create_label))
        .route("/settings/labels/{id}", web::post().to(settings::update_label))
        .route("/settings/labels/{id}/delete", web::post().to(settings::delete_label))
        .route("/profile", web::get().to(profile::show))
        .route("/profile/tokens", web::post().to(profile::create_own))
        .route("/tokens/{id}/revoke", web::post().to(profile::revoke))
        .route("/settings/tokens", web::get().to(profile::all))
        .route("/settings/tokens", web::post().to(profile::create_for))
        .default_service(web::to(|| async {
            Err::<HttpResponse, _>(AppError::not_found("This page"))
        }));
}

async fn healthz(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    use diesel::connection::SimpleConnection;
    state
        .db(|conn| {
            conn.batch_execute("SELECT 1")
                .map_err(|e| AppError::Unavailable(e.to_string()))
        })
        .await?;
    Ok(HttpResponse::Ok().content_type("text/plain").body("ok"))
}
