//! The OpenAPI 3 description, generated from the handlers' annotations so it
//! cannot drift from them.

use actix_web::HttpResponse;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::contacts;
use super::{ErrorBody, ErrorDetail};

#[derive(OpenApi)]
#[openapi(
    info(title = "leadbook API", version = "1", description = "Contacts and lead statuses for chatbots and automations."),
    paths(
        serve,
        contacts::statuses,
        contacts::list,
        contacts::create,
        contacts::show,
        contacts::update,
        contacts::delete,
        contacts::set_status,
        contacts::status_history,
    ),
    components(schemas(
        ErrorBody, ErrorDetail, contacts::StatusJson, contacts::ContactJson, contacts::ContactPage,
        contacts::HistoryJson, contacts::ContactWrite, contacts::StatusChange
    )),
    modifiers(&BearerAuth),
    security(("bearer" = []))
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// This description, as JSON. Public: it describes, it does not disclose data.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "meta", security(()),
    responses((status = 200, description = "The OpenAPI 3 description of this API", content_type = "application/json")))]
pub async fn serve() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}
