//! Random secrets (session keys, CSRF and API tokens) and how we store them.

use rand::distributions::{Alphanumeric, DistString};
use sha2::{Digest, Sha256};

/// A random alphanumeric string from the operating system's generator.
pub fn random_token(len: usize) -> String {
    Alphanumeric.sample_string(&mut rand::rngs::OsRng, len)
}

/// The hex SHA-256 of a secret: what the database keeps instead of it. The
/// secrets are long and random, so a fast hash is enough (no salt needed).
pub fn sha256_hex(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
