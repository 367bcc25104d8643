//! JSON API v1 for chatbots and automations, over the same services as the
//! pages. Errors are JSON with a stable `code`; authentication is a bearer
//! token (no cookies, so no CSRF token).

pub mod attributes;
pub mod body;
pub mod contacts;
pub mod inboxes;
pub mod merges;
pub mod notes;
pub mod openapi;
pub mod webhooks;

use actix_web::http::StatusCode;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse, ResponseError};
use futures_util::future::LocalBoxFuture;
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;
use crate::error::{AppError, FieldErrors};
use crate::service::tokens;
use crate::service::users::Actor;

/// An `AppError` answered as JSON.
#[derive(Debug)]
pub struct ApiError(pub AppError);

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        Self(e)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// The error body: `{"error": {"code": …, "message": …, "fields": …}}`.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable code: bad_request, unauthorized, forbidden, not_found, duplicate,
    /// conflict, payload_too_large, validation_failed, unavailable, storage_full,
    /// internal.
    pub code: String,
    pub message: String,
    /// Per-field messages, for validation_failed and duplicate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fields: Option<FieldErrors>,
    /// The contact that already holds a duplicate email, phone or identifier.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub existing_id: Option<i32>,
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match &self.0 {
            AppError::Unauthorized | AppError::SignInRequired => StatusCode::UNAUTHORIZED,
            other => other.status_code(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        let (code, fields, existing_id) = match &self.0 {
            AppError::NotFound(_) => ("not_found", None, None),
            AppError::Forbidden(_) | AppError::Csrf => ("forbidden", None, None),
            AppError::BadRequest(_) => ("bad_request", None, None),
            AppError::SignInRequired | AppError::Unauthorized => ("unauthorized", None, None),
            AppError::Validation { fields, .. } => ("validation_failed", Some(fields.clone()), None),
            AppError::Duplicate { field, existing_id } => {
                let mut fields = FieldErrors::new();
                fields.insert(field.to_string(), vec!["already belongs to another contact".into()]);
                ("duplicate", Some(fields), Some(*existing_id))
            }
            AppError::Conflict(_) | AppError::Contended(_) => ("conflict", None, None),
            AppError::OptedOut(_) => ("opted_out", None, None),
            AppError::ReplyWindowClosed(_) => ("reply_window_closed", None, None),
            AppError::PayloadTooLarge(_) => ("payload_too_large", None, None),
            AppError::RateLimited(_) => ("rate_limited", None, None),
            AppError::Unavailable(cause) | AppError::Internal(cause) | AppError::StorageFull(cause) => {
                tracing::error!(%cause, "API request failed");
                match self.0 {
                    AppError::Unavailable(_) => ("unavailable", None, None),
                    AppError::StorageFull(_) => ("storage_full", None, None),
                    _ => ("internal", None, None),
                }
            }
        };
        let message = match &self.0 {
            AppError::SignInRequired | AppError::Unauthorized => {
                "A valid API token is required: send `Authorization: Bearer <token>`.".to_string()
            }
            other => other.to_string(),
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code: code.into(),
                message,
                fields,
                existing_id,
            },
        };
        HttpResponse::build(self.status_code()).json(body)
    }
}

/// The user a valid bearer token acts for; anything else is a 401 before the
/// handler runs. A revoked token or a disabled user is refused at once.
pub struct ApiUser(pub Actor);

impl FromRequest for ApiUser {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let token = bearer_of(req);
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError(AppError::internal("application state missing")))?;
            let Some(token) = token else {
                return Err(ApiError(AppError::Unauthorized));
            };
            match state.db(move |c| tokens::authenticate(c, &token)).await? {
                Some(actor) => Ok(ApiUser(actor)),
                None => Err(ApiError(AppError::Unauthorized)),
            }
        })
    }
}

/// The bearer token of a request, present but not yet checked (401 when
/// missing). Read handlers check it in the same database round trip as the
/// read itself, through [`authorized`]: one thread hop and one pooled
/// connection per request instead of two.
pub struct Bearer(String);

impl FromRequest for Bearer {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        std::future::ready(bearer_of(req).map(Bearer).ok_or(ApiError(AppError::Unauthorized)))
    }
}

fn bearer_of(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
}

/// The API's rate limit, per bearer token (`API_RATE_PER_MINUTE`), counted
/// before the token is checked so that guessing tokens is limited too. A
/// request without a token is refused by the handler's 401 anyway.
async fn per_token_limit(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<
    actix_web::dev::ServiceResponse<actix_web::body::EitherBody<impl actix_web::body::MessageBody>>,
    actix_web::Error,
> {
    let state = req.app_data::<web::Data<AppState>>().cloned();
    if let (Some(state), Some(token)) = (state, bearer_of(req.request())) {
        if let Err(wait) = state.limits.api_token.check_and_hit(&token, std::time::Instant::now()) {
            let message = format!(
                "Too many requests with this token; try again in {}.",
                super::rate_limit::wait_in_words(wait)
            );
            let mut response = ApiError(AppError::RateLimited(message)).error_response();
            response.headers_mut().insert(
                actix_web::http::header::RETRY_AFTER,
                actix_web::http::header::HeaderValue::from(wait.as_secs().max(1)),
            );
            return Ok(req.into_response(response).map_into_right_body());
        }
    }
    Ok(next.call(req).await?.map_into_left_body())
}

/// Checks the token, then runs `work` as its user, on one connection.
pub async fn authorized<T: Send + 'static>(
    state: &AppState,
    bearer: Bearer,
    work: impl FnOnce(&mut crate::db::AnyConnection, &Actor) -> Result<T, AppError> + Send + 'static,
) -> Result<T, ApiError> {
    let result = state
        .db(move |c| match tokens::authenticate(c, &bearer.0)? {
            Some(actor) => work(c, &actor),
            None => Err(AppError::Unauthorized),
        })
        .await;
    result.map_err(ApiError)
}

/// Declares every API route once: registered on the scope, and listed in
/// `ROUTES` so a test can check that each is in the OpenAPI description,
/// and in `ACCESS` with who may use it.
macro_rules! api_routes {
    ($( $method:ident $path:literal => $handler:path, $access:ident ),* $(,)?) => {
        /// Every route of the API: (method, path below `/api/v1`).
        pub const ROUTES: &[(&str, &str)] = &[ $( (stringify!($method), $path) ),* ];
        /// The same routes with who may use them (`web::Access`), which
        /// tests/authorization.rs holds each route to.
        pub const ACCESS: &[crate::web::Route] = &[
            $( crate::web::Route { method: stringify!($method), path: $path, access: crate::web::Access::$access } ),*
        ];

        fn register(scope: actix_web::Scope) -> actix_web::Scope {
            scope $( .route($path, web::$method().to($handler)) )*
        }
    };
}

api_routes! {
    get "/openapi.json" => openapi::serve, Public,
    get "/statuses" => contacts::statuses, SignedIn,
    get "/contacts" => contacts::list, SignedIn,
    post "/contacts" => contacts::create, SignedIn,
    get "/contacts/{id}" => contacts::show, SignedIn,
    patch "/contacts/{id}" => contacts::update, SignedIn,
    delete "/contacts/{id}" => contacts::delete, Lead,
    post "/contacts/{id}/status" => contacts::set_status, SignedIn,
    get "/contacts/{id}/status_history" => contacts::status_history, SignedIn,
    post "/contacts/{id}/merge" => merges::merge, Lead,
    post "/merges/{id}/undo" => merges::undo, Lead,
    post "/contacts/{id}/labels" => attributes::set_contact_labels, SignedIn,
    get "/contacts/{id}/notes" => notes::list, SignedIn,
    post "/contacts/{id}/notes" => notes::create, SignedIn,
    patch "/notes/{id}" => notes::update, NoteAuthor,
    delete "/notes/{id}" => notes::delete, NoteAuthor,
    get "/custom_attributes" => attributes::list, SignedIn,
    post "/custom_attributes" => attributes::create, Admin,
    patch "/custom_attributes/{key}" => attributes::update, Admin,
    delete "/custom_attributes/{key}" => attributes::delete, Admin,
    get "/labels" => attributes::labels, SignedIn,
    post "/labels" => attributes::create_label, Admin,
    get "/inboxes" => inboxes::list, SignedIn,
    post "/inboxes" => inboxes::create, Admin,
    patch "/inboxes/{id}" => inboxes::update, Admin,
    delete "/inboxes/{id}" => inboxes::delete, Admin,
    post "/inboxes/{id}/messages" => inboxes::receive, SignedIn,
    get "/contacts/{id}/conversations" => inboxes::of_contact, SignedIn,
    get "/conversations/{id}/messages" => inboxes::messages, SignedIn,
    get "/messages/{id}" => inboxes::message, SignedIn,
    post "/contacts/{id}/messages" => inboxes::send, SignedIn,
    get "/webhooks" => webhooks::list, Admin,
    post "/webhooks" => webhooks::create, Admin,
    delete "/webhooks/{id}" => webhooks::delete, Admin,
}

/// The `/api/v1` scope.
pub fn scope() -> impl actix_web::dev::HttpServiceFactory {
    let scope = web::scope("/api/v1")
        .app_data(
            web::PathConfig::default().error_handler(|_, _| ApiError(AppError::not_found("This resource")).into()),
        )
        .default_service(web::to(|| async {
            Err::<HttpResponse, _>(ApiError(AppError::not_found("This API route")))
        }));
    register(scope).wrap(actix_web::middleware::from_fn(per_token_limit))
}
