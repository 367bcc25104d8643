//! The HTML pages: actix handlers, one module per area, routes in one place.

pub mod access;
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
pub use access::{Access, Route};

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

/// Declares every page route once with who may use it: registered in this
/// order (a literal path such as `/contacts/new` before `/contacts/{id}`),
/// and listed in `ROUTES`, from which tests/authorization.rs checks each
/// route for every kind of user, so a new route cannot be left out.
macro_rules! page_routes {
    ($( $method:ident $path:literal => $handler:path, $access:ident; )*) => {
        /// Every page route: method, path and who may use it.
        pub const ROUTES: &[Route] = &[ $( Route { method: stringify!($method), path: $path, access: Access::$access } ),* ];

        fn register(cfg: &mut web::ServiceConfig) {
            $( cfg.route($path, web::$method().to($handler)); )*
        }
    };
}

page_routes! {
    get "/healthz" => healthz, Public;
    get "/" => home, Public;
    get "/setup" => auth::setup_form, FirstRun;
    post "/setup" => auth::setup, FirstRun;
    get "/login" => auth::login_form, Public;
    post "/login" => auth::login, Public;
    post "/logout" => auth::logout, SignedIn;
    get "/contacts" => contacts::list, SignedIn;
    post "/contacts" => contacts::create, SignedIn;
    get "/contacts/new" => contacts::new_form, SignedIn;
    get "/contacts/duplicates" => duplicates::list, Lead;
    post "/contacts/bulk" => bulk::run, Lead;
    get "/trash" => trash::list, Lead;
    post "/trash/{id}/restore" => trash::restore, Lead;
    get "/team" => team::grid, Lead;
    get "/pipeline" => pipeline::page, SignedIn;
    post "/pipeline/refresh" => pipeline::refresh, Lead;
    post "/pipeline/score" => pipeline::train_score, Lead;
    get "/follow-ups" => pipeline::follow_ups, SignedIn;
    get "/settings/users" => users::list, Admin;
    post "/settings/users" => users::add, Admin;
    post "/settings/users/{id}/role" => users::set_role, Admin;
    post "/settings/users/{id}/disable" => users::disable, Admin;
    post "/settings/users/{id}/enable" => users::enable, Admin;
    post "/settings/users/{id}/password" => users::reset_password, Admin;
    get "/settings/activity" => users::activity_log, Admin;
    post "/profile/name" => users::rename_self, SignedIn;
    post "/profile/password" => users::change_own_password, SignedIn;
    get "/contacts/export.csv" => export::download, Lead;
    get "/contacts/{id}" => contacts::show, SignedIn;
    post "/contacts/{id}" => contacts::update, SignedIn;
    get "/contacts/{id}/edit" => contacts::edit_form, SignedIn;
    post "/contacts/{id}/status" => contacts::set_status, SignedIn;
    post "/contacts/{id}/owner" => contacts::assign, Lead;
    post "/contacts/{id}/follow-up" => pipeline::set_follow_up, SignedIn;
    get "/contacts/{id}/delete" => contacts::delete_form, Lead;
    post "/contacts/{id}/delete" => contacts::delete, Lead;
    get "/contacts/{id}/merge" => merges::dialog, Lead;
    post "/contacts/{id}/merge" => merges::merge, Lead;
    get "/imports/new" => imports::new_form, Lead;
    post "/imports" => imports::upload, Lead;
    get "/imports/{id}" => imports::show, Lead;
    post "/imports/{id}/commit" => imports::commit, Lead;
    get "/imports/{id}/progress" => imports::progress, Lead;
    get "/imports/{id}/rejected.csv" => imports::rejected_csv, Lead;
    get "/merges" => merges::log, Lead;
    post "/merges/{id}/undo" => merges::undo, Lead;
    post "/contacts/{id}/labels" => notes::set_labels, SignedIn;
    post "/contacts/{id}/notes" => notes::add, SignedIn;
    // Before `/notes/{id}`, which would read "undo" as an ID.
    post "/notes/undo" => notes::undo_delete, SignedIn;
    post "/notes/{id}" => notes::update, NoteAuthor;
    get "/notes/{id}/edit" => notes::edit_form, NoteAuthor;
    post "/notes/{id}/delete" => notes::delete, NoteAuthor;
    get "/contacts/{id}/messages/new" => conversations::new_message, SignedIn;
    post "/contacts/{id}/messages" => conversations::send, SignedIn;
    post "/contacts/{id}/opt-outs" => conversations::opt_out, SignedIn;
    get "/settings/webhooks" => settings::webhooks, Admin;
    post "/settings/webhooks" => settings::create_webhook, Admin;
    post "/settings/webhooks/{id}/delete" => settings::delete_webhook, Admin;
    get "/conversations" => conversations::list, SignedIn;
    get "/conversations/{id}" => conversations::show, SignedIn;
    post "/conversations/{id}/messages" => conversations::reply, SignedIn;
    post "/conversations/{id}/resolve" => conversations::resolve, SignedIn;
    get "/settings/inboxes" => settings::inboxes, Admin;
    post "/settings/inboxes" => settings::create_inbox, Admin;
    post "/settings/inboxes/{id}/delete" => settings::delete_inbox, Admin;
    get "/labels.css" => settings::label_styles, Public;
    get "/settings/attributes" => settings::attributes, Admin;
    post "/settings/attributes" => settings::create_attribute, Admin;
    get "/settings/attributes/{id}" => settings::edit_attribute, Admin;
    post "/settings/attributes/{id}" => settings::update_attribute, Admin;
    get "/settings/attributes/{id}/delete" => settings::delete_attribute_form, Admin;
    post "/settings/attributes/{id}/delete" => settings::delete_attribute, Admin;
    get "/settings/labels" => settings::labels, Admin;
    post "/settings/labels" => settings::create_label, Admin;
    post "/settings/labels/{id}" => settings::update_label, Admin;
    post "/settings/labels/{id}/delete" => settings::delete_label, Admin;
    get "/profile" => profile::show, SignedIn;
    post "/profile/tokens" => profile::create_own, SignedIn;
    post "/tokens/{id}/revoke" => profile::revoke, TokenHolder;
    get "/settings/tokens" => profile::all, Admin;
    post "/settings/tokens" => profile::create_for, Admin;
}

async fn home() -> HttpResponse {
    pages::see_other("/contacts")
}

/// Every route of the pages.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::PathConfig::default().error_handler(|_, _| AppError::not_found("This page").into()))
        .app_data(web::QueryConfig::default().error_handler(|e, _| AppError::bad_request(e.to_string()).into()))
        .service(api::scope())
        .service(actix_files::Files::new(
            "/static",
            concat!(env!("CARGO_MANIFEST_DIR"), "/static"),
        ));
    register(cfg);
    cfg.default_service(web::to(|| async {
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
