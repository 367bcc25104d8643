//! Reading JSON bodies ourselves, so that every failure has the API's error
//! shape: too large is 413, not JSON is 400, a wrong type is 422 naming the field.

use actix_web::web;
use futures_util::StreamExt;
use serde_json::{Map, Value};

use super::ApiError;
use crate::error::{AppError, FieldErrors};

/// A JSON object body, with typed access that collects per-field errors.
pub struct JsonObject {
    map: Map<String, Value>,
    pub errors: FieldErrors,
}

/// Reads at most `limit_kb` KiB and parses a JSON object.
pub async fn read_object(mut payload: web::Payload, limit_kb: usize) -> Result<JsonObject, ApiError> {
    let limit = limit_kb * 1024;
    let too_large = || {
        ApiError(AppError::PayloadTooLarge(format!(
            "The body is larger than {limit_kb} KiB."
        )))
    };
    let mut bytes = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| ApiError(AppError::bad_request("The body could not be read.")))?;
        if bytes.len() + chunk.len() > limit {
            return Err(too_large());
        }
        bytes.extend_from_slice(&chunk);
    }
    let value: Value = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError(AppError::bad_request(format!("The body is not valid JSON: {e}"))))?;
    match value {
        Value::Object(map) => Ok(JsonObject {
            map,
            errors: FieldErrors::new(),
        }),
        _ => Err(ApiError(AppError::Validation {
            message: "The body must be a JSON object.".into(),
            fields: FieldErrors::new(),
        })),
    }
}

/// What a body says about one attribute.
pub enum Given<T> {
    Absent,
    Null,
    Value(T),
}

impl JsonObject {
    pub fn has(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    fn wrong(&mut self, key: &str, what: &str) {
        self.errors
            .entry(key.to_string())
            .or_default()
            .push(format!("must be {what}"));
    }

    /// A string attribute.
    pub fn text(&mut self, key: &str) -> Given<String> {
        match self.map.get(key) {
            None => Given::Absent,
            Some(Value::Null) => Given::Null,
            Some(Value::String(s)) => Given::Value(s.clone()),
            Some(_) => {
                self.wrong(key, "a string");
                Given::Absent
            }
        }
    }

    /// A whole-number attribute.
    pub fn integer(&mut self, key: &str) -> Given<i64> {
        match self.map.get(key) {
            None => Given::Absent,
            Some(Value::Null) => Given::Null,
            Some(Value::Number(n)) if n.as_i64().is_some() => Given::Value(n.as_i64().unwrap_or_default()),
            Some(_) => {
                self.wrong(key, "a whole number");
                Given::Absent
            }
        }
    }

    /// A true/false attribute.
    pub fn boolean(&mut self, key: &str) -> Given<bool> {
        match self.map.get(key) {
            None => Given::Absent,
            Some(Value::Null) => Given::Null,
            Some(Value::Bool(b)) => Given::Value(*b),
            Some(_) => {
                self.wrong(key, "true or false");
                Given::Absent
            }
        }
    }

    /// An object attribute (such as `custom_attributes`).
    pub fn object(&mut self, key: &str) -> Given<Map<String, Value>> {
        match self.map.get(key) {
            None => Given::Absent,
            Some(Value::Null) => Given::Null,
            Some(Value::Object(m)) => Given::Value(m.clone()),
            Some(_) => {
                self.wrong(key, "an object");
                Given::Absent
            }
        }
    }

    /// A list of strings (such as a list attribute's `options`).
    pub fn strings(&mut self, key: &str) -> Given<Vec<String>> {
        match self.map.get(key) {
            None => Given::Absent,
            Some(Value::Null) => Given::Null,
            Some(Value::Array(items)) if items.iter().all(Value::is_string) => {
                Given::Value(items.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
            }
            Some(_) => {
                self.wrong(key, "a list of strings");
                Given::Absent
            }
        }
    }

    /// Fails with 422 when any attribute had the wrong type.
    pub fn check(&mut self) -> Result<(), ApiError> {
        if self.errors.is_empty() {
            return Ok(());
        }
        let fields = std::mem::take(&mut self.errors);
        Err(ApiError(AppError::invalid(fields)))
    }
}
