//! Settings from the environment (and an optional `.env`), documented in the README.

use std::str::FromStr;

use crate::db::DatabaseUrl;

#[derive(Debug, Clone)]
pub struct Settings {
    pub database_url: DatabaseUrl,
    pub bind: String,
    /// Base64 key for signing session cookies; generated and stored in the database when unset.
    pub session_key: Option<String>,
    pub default_country: phonenumber::country::Id,
    /// The default country's calling code (60 for MY), for phone searches.
    pub calling_code: u16,
    pub time_zone: chrono_tz::Tz,
    pub public_url: Option<String>,
    pub cookie_secure: bool,
    /// A session signed in longer ago than this ends (the absolute timeout).
    pub session_max_hours: i64,
    /// A session unused for this long ends (the idle timeout).
    pub session_idle_minutes: i64,
    /// Sign-in attempts allowed per account, and per client address, in
    /// `LOGIN_WINDOW_MINUTES` (`LOGIN_LIMIT_ACCOUNT`, `LOGIN_LIMIT_ADDRESS`).
    pub login_limit_account: u32,
    pub login_limit_address: u32,
    pub login_window_minutes: u64,
    /// Tries to reach the database at start before giving up (`DB_CONNECT_ATTEMPTS`).
    pub db_connect_attempts: u32,
    /// How long a request waits for a database connection before it is
    /// answered 503 (`DB_WAIT_SECS`): while the database is down, pages and
    /// the API say so within this time instead of hanging.
    pub db_wait_secs: u64,
    /// API requests allowed per token per minute (`API_RATE_PER_MINUTE`).
    pub api_rate_per_minute: u32,
    /// Largest JSON body the API reads, in KiB.
    pub max_json_kb: usize,
    /// Largest import file uploaded through the page, in MiB (`MAX_UPLOAD_MB`);
    /// the command line has no limit.
    pub max_upload_mb: u64,
    /// Whether this instance runs the delivery worker (`DELIVERY_WORKER`).
    pub delivery_worker: bool,
    /// The first retry's wait after a failed delivery, doubling each time.
    pub delivery_retry_ms: u64,
    /// Attempts before a message is marked failed.
    pub delivery_attempts: i32,
    /// The pipeline's stale rules (`STALE_RULES`, `negotiating:7` by default).
    pub stale_rules: Vec<crate::service::pipeline::StaleRule>,
    /// How often the pipeline's figures are computed again, in seconds.
    pub pipeline_refresh_secs: u64,
    /// Which closed contacts the lead score learns from
    /// (`LEAD_SCORE_UNQUALIFIED`: count Unqualified as lost, off by default).
    pub score_outcomes: crate::service::lead_score::Outcomes,
    /// How often the lead score is trained again, in seconds.
    pub score_train_secs: u64,
}

impl Settings {
    /// Reads every setting from the process environment.
    pub fn from_env() -> Result<Self, String> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `lookup`, so tests can pass their own values.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let get = |name: &str, default: &str| {
            lookup(name)
                .filter(|v| !v.trim().is_empty())
                .unwrap_or_else(|| default.to_string())
        };
        let database_url = DatabaseUrl::parse(&get("DATABASE_URL", "sqlite://leadbook.db"))?;
        let country = get("DEFAULT_COUNTRY", "MY").trim().to_uppercase();
        let default_country = phonenumber::country::Id::from_str(&country)
            .map_err(|_| format!("DEFAULT_COUNTRY `{country}` is not a two-letter country code"))?;
        let calling_code = phonenumber::metadata::DATABASE
            .by_id(country.as_str())
            .map(|m| m.country_code())
            .ok_or_else(|| format!("DEFAULT_COUNTRY `{country}` has no phone numbering plan"))?;
        let tz_name = get("TIME_ZONE", "Asia/Kuala_Lumpur");
        let time_zone = chrono_tz::Tz::from_str(tz_name.trim())
            .map_err(|_| format!("TIME_ZONE `{tz_name}` is not a known time zone"))?;
        let public_url = lookup("PUBLIC_URL").filter(|v| !v.trim().is_empty());
        let https = public_url.as_deref().is_some_and(|u| u.starts_with("https://"));
        let cookie_secure = match lookup("COOKIE_SECURE") {
            Some(v) if !v.trim().is_empty() => parse_flag("COOKIE_SECURE", &v)?,
            _ => https,
        };
        Ok(Self {
            database_url,
            bind: get("BIND", "127.0.0.1:8080"),
            session_key: lookup("SESSION_KEY").filter(|v| !v.trim().is_empty()),
            default_country,
            calling_code,
            time_zone,
            public_url,
            cookie_secure,
            session_max_hours: parse_number("SESSION_MAX_HOURS", &get("SESSION_MAX_HOURS", "168"))?,
            session_idle_minutes: parse_number("SESSION_IDLE_MINUTES", &get("SESSION_IDLE_MINUTES", "240"))?,
            login_limit_account: parse_number("LOGIN_LIMIT_ACCOUNT", &get("LOGIN_LIMIT_ACCOUNT", "10"))?,
            login_limit_address: parse_number("LOGIN_LIMIT_ADDRESS", &get("LOGIN_LIMIT_ADDRESS", "50"))?,
            login_window_minutes: parse_number("LOGIN_WINDOW_MINUTES", &get("LOGIN_WINDOW_MINUTES", "15"))?,
            db_connect_attempts: parse_number("DB_CONNECT_ATTEMPTS", &get("DB_CONNECT_ATTEMPTS", "30"))?,
            db_wait_secs: parse_number("DB_WAIT_SECS", &get("DB_WAIT_SECS", "5"))?,
            api_rate_per_minute: parse_number("API_RATE_PER_MINUTE", &get("API_RATE_PER_MINUTE", "600"))?,
            max_json_kb: parse_number("MAX_JSON_KB", &get("MAX_JSON_KB", "256"))?,
            max_upload_mb: parse_number("MAX_UPLOAD_MB", &get("MAX_UPLOAD_MB", "1024"))?,
            delivery_worker: parse_flag("DELIVERY_WORKER", &get("DELIVERY_WORKER", "on"))?,
            delivery_retry_ms: parse_number("DELIVERY_RETRY_MS", &get("DELIVERY_RETRY_MS", "30000"))?,
            delivery_attempts: parse_number("DELIVERY_ATTEMPTS", &get("DELIVERY_ATTEMPTS", "6"))?,
            stale_rules: crate::service::pipeline::StaleRule::parse_list(&get("STALE_RULES", "negotiating:7"))?,
            pipeline_refresh_secs: parse_number("PIPELINE_REFRESH_SECS", &get("PIPELINE_REFRESH_SECS", "600"))?,
            score_outcomes: crate::service::lead_score::Outcomes {
                unqualified_as_lost: parse_flag("LEAD_SCORE_UNQUALIFIED", &get("LEAD_SCORE_UNQUALIFIED", "off"))?,
            },
            score_train_secs: parse_number("LEAD_SCORE_TRAIN_SECS", &get("LEAD_SCORE_TRAIN_SECS", "3600"))?,
        })
    }
}

fn parse_number<T: FromStr>(name: &str, value: &str) -> Result<T, String> {
    value
        .trim()
        .parse()
        .map_err(|_| format!("{name} must be a whole number, not `{value}`"))
}

fn parse_flag(name: &str, value: &str) -> Result<bool, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(format!("{name} must be true or false, not `{value}`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, String> {
        let map: std::collections::HashMap<String, String> =
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_to_sqlite_file_and_malaysia() {
        let s = settings(&[]).unwrap();
        assert_eq!(
            s.database_url,
            DatabaseUrl::Sqlite {
                path: "leadbook.db".into()
            }
        );
        assert_eq!(s.bind, "127.0.0.1:8080");
        assert_eq!(s.default_country, phonenumber::country::Id::MY);
        assert!(!s.cookie_secure);
    }

    #[test]
    fn bad_values_name_the_variable() {
        let err = settings(&[("DATABASE_URL", "mysql://x")]).unwrap_err();
        assert!(err.contains("DATABASE_URL") && err.contains("mysql"), "{err}");
        let err = settings(&[("DATABASE_URL", "postgres:bad")]).unwrap_err();
        assert!(err.contains("DATABASE_URL"), "{err}");
        assert!(settings(&[("TIME_ZONE", "Mars/Base")])
            .unwrap_err()
            .contains("TIME_ZONE"));
        assert!(settings(&[("DEFAULT_COUNTRY", "XX1")])
            .unwrap_err()
            .contains("DEFAULT_COUNTRY"));
    }

    #[test]
    fn the_upload_limit_defaults_to_a_gigabyte() {
        assert_eq!(settings(&[]).unwrap().max_upload_mb, 1024);
        assert_eq!(settings(&[("MAX_UPLOAD_MB", "5")]).unwrap().max_upload_mb, 5);
        assert!(settings(&[("MAX_UPLOAD_MB", "lots")])
            .unwrap_err()
            .contains("MAX_UPLOAD_MB"));
    }

    #[test]
    fn https_public_url_makes_cookies_secure() {
        let s = settings(&[("PUBLIC_URL", "https://crm.example.com")]).unwrap();
        assert!(s.cookie_secure);
    }
}
