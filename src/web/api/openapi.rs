//! The OpenAPI 3 description, generated from the handlers' annotations so it
//! cannot drift from them.

use actix_web::HttpResponse;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{attributes, contacts, inboxes, merges, notes, webhooks};
use super::{ErrorBody, ErrorDetail};

#[derive(OpenApi)]
#[openapi(
    info(title = "leadbook API", version = "1", description = "Contacts, lead statuses, custom attributes, labels and notes for chatbots and automations."),
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
        merges::merge,
        merges::undo,
        attributes::set_contact_labels,
        notes::list,
        notes::create,
        notes::update,
        notes::delete,
        attributes::list,
        attributes::create,
        attributes::update,
        attributes::delete,
        attributes::labels,
        attributes::create_label,
        inboxes::list,
        inboxes::create,
        inboxes::update,
        inboxes::delete,
        inboxes::receive,
        inboxes::of_contact,
        inboxes::messages,
        inboxes::message,
        inboxes::send,
        webhooks::list,
        webhooks::create,
        webhooks::delete,
    ),
    components(schemas(
        ErrorBody, ErrorDetail, contacts::StatusJson, contacts::ContactJson, contacts::ContactPage,
        contacts::HistoryJson, contacts::ContactWrite, contacts::StatusChange,
        attributes::AttributeJson, attributes::AttributeChanged, attributes::AttributeWrite,
        attributes::LabelJson, attributes::LabelWrite, attributes::LabelSet,
        notes::NoteJson, notes::NoteWrite,
        merges::MergeWrite, merges::MergedJson, merges::UndoneJson,
        inboxes::InboxJson, inboxes::DeliveryJson, inboxes::InboxWrite, inboxes::IncomingWrite, inboxes::ReceivedJson,
        inboxes::ConversationJson, inboxes::MessageJson, inboxes::MessagePage, inboxes::SendWrite, inboxes::SentJson,
        webhooks::WebhookJson, webhooks::WebhookWrite
    )),
    modifiers(&BearerAuth, &RateLimited),
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

/// Every operation may answer 429 when its token has used its requests for
/// the minute (`API_RATE_PER_MINUTE`): said once here for all of them.
struct RateLimited;

impl Modify for RateLimited {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        use utoipa::openapi::{ContentBuilder, HeaderBuilder, Ref, ResponseBuilder};
        let response = ResponseBuilder::new()
            .description("Too many requests with this token this minute; `error.code` is `rate_limited`")
            .header(
                "Retry-After",
                HeaderBuilder::new()
                    .schema(ObjectBuilder::new().schema_type(Type::Integer))
                    .description(Some("Seconds until the token may try again"))
                    .build(),
            )
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                    .build(),
            )
            .build();
        for item in openapi.paths.paths.values_mut() {
            for operation in [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
            ]
            .into_iter()
            .flatten()
            {
                operation
                    .responses
                    .responses
                    .insert("429".into(), response.clone().into());
            }
        }
    }
}

/// This description, as JSON. Public: it describes, it does not disclose data.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "meta", security(()),
    responses((status = 200, description = "The OpenAPI 3 description of this API", content_type = "application/json")))]
pub async fn serve() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}
