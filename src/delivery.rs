//! The delivery worker: a background task of each instance (unless
//! `DELIVERY_WORKER=off`) that claims queued outgoing messages and event
//! webhook deliveries from the database and sends them. Pages never wait.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use actix_web::web;
use futures_util::future::join_all;
use serde::Serialize;
use tokio::sync::Notify;

use crate::config::Settings;
use crate::db::Pool;
use crate::error::AppError;
use crate::service::inboxes::Delivery;
use crate::service::messaging::{self, Job, RetryPolicy};
use crate::service::webhooks::{self, EventJob};

/// How long a claimed message stays reserved for its deliverer.
const LEASE_SECONDS: i64 = 60;
/// How often the queue is read when nothing wakes the worker sooner.
const POLL: StdDuration = StdDuration::from_millis(500);
const BATCH: i64 = 32;

/// What a webhook adapter POSTs (interface.md).
#[derive(Serialize)]
struct Outgoing<'a> {
    message_id: i32,
    inbox_id: i32,
    conversation_id: i32,
    contact_id: i32,
    to: &'a str,
    body: &'a str,
}

/// Starts the worker on the current actix runtime. `wake` is notified when
/// a message is queued on this instance, so it goes out at once; messages
/// queued elsewhere (or due for a retry) are found by polling.
pub fn start(pool: Pool, settings: Arc<Settings>, wake: Arc<Notify>) {
    // Only the first call in a process installs it; later ones find it there.
    let _ = rustls::crypto::ring::default_provider().install_default();
    actix_web::rt::spawn(async move {
        let client = match reqwest::Client::builder().timeout(StdDuration::from_secs(10)).build() {
            Ok(client) => client,
            Err(e) => {
                tracing::error!(error = %e, "no HTTP client: this instance delivers no messages");
                return;
            }
        };
        loop {
            match claim(&pool).await {
                Ok((jobs, events)) if !jobs.is_empty() || !events.is_empty() => {
                    let messages = join_all(jobs.into_iter().map(|job| deliver(&client, &pool, &settings, job)));
                    let events = join_all(events.into_iter().map(|job| notify(&client, &pool, &settings, job)));
                    futures_util::future::join(messages, events).await;
                }
                Ok(_) => {
                    let _ = tokio::time::timeout(POLL, wake.notified()).await;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "delivery worker cannot read the queue");
                    tokio::time::sleep(POLL).await;
                }
            }
        }
    });
}

async fn claim(pool: &Pool) -> Result<(Vec<Job>, Vec<EventJob>), AppError> {
    let pool = pool.clone();
    web::block(move || {
        let mut conn = pool.get()?;
        let lease = chrono::Duration::seconds(LEASE_SECONDS);
        Ok((
            messaging::claim_due(&mut conn, BATCH, lease)?,
            webhooks::claim_due(&mut conn, BATCH, lease)?,
        ))
    })
    .await?
}

/// POSTs one event with its signature and records the outcome.
async fn notify(client: &reqwest::Client, pool: &Pool, settings: &Settings, job: EventJob) {
    let ok = match client
        .post(&job.url)
        .header("Content-Type", "application/json")
        .header("X-Leadbook-Signature", webhooks::signature(&job.secret, &job.payload))
        .body(job.payload.clone())
        .send()
        .await
    {
        Ok(res) if res.status().is_success() => true,
        Ok(res) => {
            tracing::warn!(delivery = job.id, status = %res.status(), "event webhook refused");
            false
        }
        Err(e) => {
            tracing::warn!(delivery = job.id, error = %e, "event webhook unreachable");
            false
        }
    };
    let retry = retry_policy(settings);
    record(pool, "event delivery", move |conn| {
        webhooks::record(conn, &job, ok, retry)
    })
    .await;
}

fn retry_policy(settings: &Settings) -> RetryPolicy {
    RetryPolicy {
        first: chrono::Duration::milliseconds(settings.delivery_retry_ms as i64),
        attempts: settings.delivery_attempts,
    }
}

/// Records a delivery's outcome off the async threads. When that fails the
/// lease runs out and the delivery is tried again.
async fn record(
    pool: &Pool,
    what: &'static str,
    write: impl FnOnce(&mut crate::db::AnyConnection) -> Result<(), AppError> + Send + 'static,
) {
    let pool = pool.clone();
    let recorded = web::block(move || {
        let mut conn = pool.get()?;
        write(&mut conn)
    })
    .await;
    if let Err(e) = recorded.map_err(AppError::from).and_then(|r| r) {
        tracing::error!(error = %e, "{what} outcome not recorded");
    }
}

async fn deliver(client: &reqwest::Client, pool: &Pool, settings: &Settings, job: Job) {
    let outcome = match &job.delivery {
        Delivery::Sandbox => Ok(()),
        Delivery::Webhook { url } => {
            let payload = Outgoing {
                message_id: job.message_id,
                inbox_id: job.inbox_id,
                conversation_id: job.conversation_id,
                contact_id: job.contact_id,
                to: &job.to,
                body: &job.body,
            };
            match client.post(url).json(&payload).send().await {
                Ok(res) if res.status().is_success() => Ok(()),
                Ok(res) => Err(format!("the bridge answered {}", res.status())),
                Err(e) => Err(format!("the bridge could not be reached: {e}")),
            }
        }
    };
    if let Err(reason) = &outcome {
        tracing::warn!(message_id = job.message_id, %reason, "delivery failed");
    }
    let retry = retry_policy(settings);
    record(pool, "message delivery", move |conn| match outcome {
        Ok(()) => messaging::delivered(conn, &job),
        Err(_) => messaging::attempt_failed(conn, &job, retry),
    })
    .await;
}
