//! Who may use a route, declared beside it in the route tables
//! (`page_routes!` in `web`, `api_routes!` in `web::api`).
//!
//! The declaration does not enforce anything: each handler checks its own
//! rule (in the service, where the pages, the API and the CLI share it). It
//! is the contract tests/authorization.rs holds every route to, for an
//! anonymous visitor, an agent, a lead and an admin, for a user acting on
//! another user's note or token, and for a revoked token (docs/decisions.md, "Roles").

/// Who may use a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, signed in or not: sign-in, health, styles.
    Public,
    /// Anyone until the first admin exists (first-run setup); after that
    /// the sign-in page, for everyone.
    FirstRun,
    /// Any signed-in user (any valid API token).
    SignedIn,
    /// Team leads and admins: assign, bulk actions, import, export, merge
    /// and undo, delete and restore.
    Lead,
    /// Admins: users, inboxes, custom attributes, labels, webhooks, everyone's
    /// tokens.
    Admin,
    /// A note's author, or a lead or admin (who may edit anyone's notes).
    NoteAuthor,
    /// A token's own user, or an admin. To anyone else the token is "not
    /// found" (404), so token IDs are not revealed.
    TokenHolder,
}

/// One route of a route table.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    /// `get`, `post`, `patch` or `delete`.
    pub method: &'static str,
    /// As registered, with `{id}`-style parameters.
    pub path: &'static str,
    pub access: Access,
}
