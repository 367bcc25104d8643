//! leadbook: the contacts section of an omnichannel sales inbox.
//!
//! Data flows one way: `web` / `cli` → `service` → `db`.

pub mod cli;
pub mod config;
pub mod db;
pub mod delivery;
pub mod error;
pub mod service;
pub mod web;

use std::net::TcpListener;
use std::sync::Arc;

use actix_session::config::{BrowserSession, CookieContentSecurity};
use actix_session::SessionMiddleware;
use actix_web::cookie::{Key, SameSite};
use actix_web::dev::Server;
use actix_web::{middleware, web as aw, App, HttpServer};

use crate::config::Settings;
use crate::web::session_store::DbSessionStore;
use crate::web::AppState;

/// A built, bound server: run it with `server.await`, read `port` to reach it.
pub struct Application {
    pub port: u16,
    pub server: Server,
    pub pool: db::Pool,
}

impl Application {
    /// Connects, migrates, binds `settings.bind` (port 0 picks a free one) and
    /// builds the server without starting it.
    pub fn build(settings: Settings) -> anyhow::Result<Self> {
        let pool_size = if settings.database_url.is_sqlite() { 8 } else { 16 };
        let pool = db::pool(
            &settings.database_url,
            pool_size,
            std::time::Duration::from_secs(settings.db_wait_secs.max(1)),
        )
        .map_err(anyhow::Error::msg)?;
        let mut conn = pool.get()?;
        db::migrate(&mut conn).map_err(anyhow::Error::msg)?;
        let key = service::sessions::signing_key(&mut conn, settings.session_key.as_deref())
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let _ = service::sessions::purge_expired(&mut conn);
        drop(conn);
        service::duplicates::rebuild_in_background_if_missing(&pool);

        let listener = TcpListener::bind(&settings.bind)
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", settings.bind))?;
        let port = listener.local_addr()?.port();
        let state = AppState {
            pool: pool.clone(),
            limits: Arc::new(web::rate_limit::RateLimits::new(&settings)),
            settings: Arc::new(settings),
            delivery: Arc::new(tokio::sync::Notify::new()),
        };
        if state.settings.delivery_worker {
            delivery::start(pool.clone(), state.settings.clone(), state.delivery.clone());
        }
        service::pipeline::refresh_in_background(
            pool.clone(),
            state.settings.stale_rules.clone(),
            std::time::Duration::from_secs(state.settings.pipeline_refresh_secs.max(1)),
        );
        service::lead_score::train_in_background(
            pool.clone(),
            state.settings.score_outcomes,
            std::time::Duration::from_secs(state.settings.score_train_secs.max(1)),
        );
        let key = Key::derive_from(&key);
        let server = HttpServer::new(move || {
            let settings = &state.settings;
            let sessions = SessionMiddleware::builder(DbSessionStore::new(state.pool.clone()), key.clone())
                .cookie_name("leadbook_session".into())
                .cookie_http_only(true)
                .cookie_same_site(SameSite::Lax)
                .cookie_secure(settings.cookie_secure)
                .cookie_content_security(CookieContentSecurity::Private)
                .session_lifecycle(
                    BrowserSession::default()
                        .state_ttl(actix_web::cookie::time::Duration::hours(settings.session_max_hours)),
                )
                .build();
            App::new()
                .app_data(aw::Data::new(state.clone()))
                .wrap(middleware::from_fn(web::security::check_origin))
                .wrap(sessions)
                .wrap(web::security::headers())
                .wrap(middleware::Logger::new("%r %s %Dms"))
                .configure(web::routes)
        })
        .listen(listener)?
        .run();
        Ok(Self { port, server, pool })
    }
}
