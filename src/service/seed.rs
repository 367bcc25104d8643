//! Realistic fake contacts for demos and benchmarks: Malaysian names, phones,
//! companies and cities, weighted statuses, owners and activity dates.

use chrono::{Duration, NaiveDateTime, Utc};
use diesel::dsl::max;
use diesel::prelude::*;
use diesel::sql_types::{Nullable, Text};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::attributes::{self, Kind};
use super::users::{hash_password, Role};
use crate::db::schema::{contact_attribute_values, contacts, status_history, users};
use crate::db::{write_transaction, AnyConnection};
use crate::error::AppError;

const MALAY_MEN: &[&str] = &[
    "Ahmad", "Muhammad", "Faizal", "Hafiz", "Azman", "Zulkifli", "Amir", "Ismail", "Rizal", "Syafiq", "Firdaus",
    "Khairul",
];
const MALAY_WOMEN: &[&str] = &[
    "Siti", "Nur", "Aisyah", "Farah", "Nurul", "Aminah", "Zarina", "Hidayah", "Izzati", "Syazwani", "Liyana", "Mariam",
];
const MALAY_FATHERS: &[&str] = &[
    "Rahman", "Abdullah", "Ismail", "Hassan", "Osman", "Yusof", "Ibrahim", "Ali", "Hamid", "Aziz", "Razak", "Salleh",
];
const CHINESE_SURNAMES: &[&str] = &[
    "Tan", "Lim", "Lee", "Wong", "Ng", "Chong", "Chan", "Ong", "Teh", "Goh", "Yap", "Khoo",
];
const CHINESE_GIVEN: &[&str] = &[
    "Wei Ming",
    "Mei Ling",
    "Kah Wai",
    "Jia Hui",
    "Chee Keong",
    "Siew Lan",
    "Boon Hock",
    "Hui Min",
    "Kok Leong",
    "Xin Yi",
    "Wai Kit",
    "Pei Shan",
];
const INDIAN_GIVEN: &[&str] = &[
    "Rajesh", "Kumar", "Priya", "Suresh", "Kavitha", "Ganesh", "Devi", "Arun", "Lakshmi", "Ravi", "Meena", "Vijay",
];
const INDIAN_FATHERS: &[&str] = &[
    "Muthu",
    "Raman",
    "Krishnan",
    "Subramaniam",
    "Pillai",
    "Nair",
    "Gopal",
    "Samy",
];
const COMPANY_WORDS: &[&str] = &[
    "Maju", "Jaya", "Sinar", "Bintang", "Cahaya", "Gemilang", "Harmoni", "Mutiara", "Seri", "Permata", "Wawasan",
    "Indah",
];
const COMPANY_KINDS: &[&str] = &[
    "Trading",
    "Enterprise",
    "Holdings",
    "Resources",
    "Kedai Runcit",
    "Catering",
    "Logistics",
    "Motor",
    "Hardware",
    "Beauty",
    "Tech",
    "Bakery",
];
const CITIES: &[&str] = &[
    "Kuala Lumpur",
    "Petaling Jaya",
    "Shah Alam",
    "Subang Jaya",
    "Johor Bahru",
    "George Town",
    "Ipoh",
    "Kota Kinabalu",
    "Kuching",
    "Melaka",
    "Seremban",
    "Kota Bharu",
    "Kuantan",
    "Alor Setar",
];
const DOMAINS: &[&str] = &["gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "example.com.my"];
/// Status IDs weighted like a working pipeline: many new leads, few won.
const STATUS_WEIGHTS: [(i32, u32); 7] = [(1, 30), (2, 20), (3, 15), (4, 10), (5, 10), (6, 10), (7, 5)];
const BATCH: usize = 1000;

fn pick<'a>(rng: &mut StdRng, from: &[&'a str]) -> &'a str {
    from[rng.gen_range(0..from.len())]
}

fn fake_name(rng: &mut StdRng) -> String {
    match rng.gen_range(0..10) {
        0..=4 => {
            if rng.gen_bool(0.5) {
                format!("{} bin {}", pick(rng, MALAY_MEN), pick(rng, MALAY_FATHERS))
            } else {
                format!("{} binti {}", pick(rng, MALAY_WOMEN), pick(rng, MALAY_FATHERS))
            }
        }
        5..=7 => format!("{} {}", pick(rng, CHINESE_SURNAMES), pick(rng, CHINESE_GIVEN)),
        _ => format!("{} a/l {}", pick(rng, INDIAN_GIVEN), pick(rng, INDIAN_FATHERS)),
    }
}

fn fake_status(rng: &mut StdRng) -> i32 {
    let total: u32 = STATUS_WEIGHTS.iter().map(|(_, w)| w).sum();
    let mut roll = rng.gen_range(0..total);
    for (id, weight) in STATUS_WEIGHTS {
        if roll < weight {
            return id;
        }
        roll -= weight;
    }
    1
}

/// A unique Malaysian mobile number for the n-th seeded contact: a bijective
/// scramble of n, so numbers look random but never repeat.
fn fake_phone(n: u64) -> String {
    const SPAN: u64 = 10_000_000;
    let prefixes = [2, 3, 4, 6, 7, 8, 9];
    let prefix = prefixes[((n / SPAN) % prefixes.len() as u64) as usize];
    let local = (n % SPAN * 7919 + 1_234_567) % SPAN;
    format!("+601{prefix}{local:07}")
}

#[derive(Insertable)]
#[diesel(table_name = contacts)]
struct SeedContact {
    name: String,
    email: Option<String>,
    phone: Option<String>,
    company: Option<String>,
    city: Option<String>,
    country: Option<String>,
    status_id: i32,
    owner_id: Option<i32>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    last_activity_at: Option<NaiveDateTime>,
}

/// The agents who own seeded contacts; demo agents are added when the team has none.
fn owners(conn: &mut AnyConnection) -> Result<Vec<i32>, AppError> {
    let agents: Vec<i32> = users::table
        .filter(users::role.eq(Role::Agent.as_str()))
        .filter(users::disabled_at.is_null())
        .select(users::id)
        .load(conn)?;
    if !agents.is_empty() {
        return Ok(agents);
    }
    // Demo agents get a random password: an admin resets it to let them in.
    let hash = hash_password(&format!("{:x}", rand::random::<u128>()))?;
    let now = Utc::now().naive_utc();
    let names = [
        "Nurul Huda",
        "Jason Lim",
        "Kavitha Raj",
        "Amirul Hakim",
        "Michelle Tan",
        "Farid Zain",
    ];
    let mut ids = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let id = diesel::insert_into(users::table)
            .values((
                users::email.eq(format!("agent{}@demo.leadbook", i + 1)),
                users::name.eq(*name),
                users::role.eq(Role::Agent.as_str()),
                users::password_hash.eq(&hash),
                users::created_at.eq(now),
                users::updated_at.eq(now),
            ))
            .returning(users::id)
            .get_result(conn)?;
        ids.push(id);
    }
    Ok(ids)
}

#[derive(Insertable)]
#[diesel(table_name = contact_attribute_values)]
struct SeedValue {
    contact_id: i32,
    attribute_id: i32,
    value_text: String,
    value_key: String,
    value_number: Option<f64>,
}

/// The attributes `--attributes` fills: `plan` (10% gold) and `budget`.
pub struct SeedAttributes {
    plan: i32,
    budget: i32,
}

/// Defines `plan` and `budget` unless they exist (as interface.md describes
/// `seed --attributes`).
pub fn seed_attributes(conn: &mut AnyConnection) -> Result<SeedAttributes, AppError> {
    let plan = attributes::ensure(conn, "plan", "Plan", Kind::List, &["gold", "silver", "bronze"])?;
    let budget = attributes::ensure(conn, "budget", "Budget", Kind::Number, &[])?;
    if plan.kind != Kind::List || !plan.options.iter().any(|o| o == "gold") || budget.kind != Kind::Number {
        return Err(AppError::Conflict(
            "custom attributes plan and budget exist with other types; seed cannot fill them".into(),
        ));
    }
    Ok(SeedAttributes {
        plan: plan.id,
        budget: budget.id,
    })
}

/// Every tenth contact (by ID) is on the gold plan, the rest silver or
/// bronze; about 70% have a budget.
fn seed_values(ids: &[i32], attrs: &SeedAttributes) -> Vec<SeedValue> {
    let mut rows = Vec::with_capacity(ids.len() * 2);
    for &id in ids {
        let plan = match id % 10 {
            0 => "gold",
            1..=5 => "silver",
            _ => "bronze",
        };
        rows.push(SeedValue {
            contact_id: id,
            attribute_id: attrs.plan,
            value_text: plan.into(),
            value_key: plan.into(),
            value_number: None,
        });
        if id % 10 < 7 {
            let budget = f64::from((id.wrapping_mul(7919) % 100) * 500 + 500);
            rows.push(SeedValue {
                contact_id: id,
                attribute_id: attrs.budget,
                value_text: format!("{budget}"),
                value_key: format!("{budget}"),
                value_number: Some(budget),
            });
        }
    }
    rows
}

fn insert_values(conn: &mut AnyConnection, rows: &[SeedValue]) -> Result<(), AppError> {
    // SQLite allows 32,766 bound parameters per statement: 5 per row.
    for chunk in rows.chunks(5_000) {
        match conn {
            AnyConnection::Sqlite(c) => diesel::insert_into(contact_attribute_values::table)
                .values(chunk)
                .execute(c)?,
            AnyConnection::Postgresql(c) => diesel::insert_into(contact_attribute_values::table)
                .values(chunk)
                .execute(c)?,
        };
    }
    Ok(())
}

fn insert_batch(conn: &mut AnyConnection, batch: &[SeedContact]) -> Result<(), AppError> {
    // Multi-row inserts go through the backend's own connection type.
    match conn {
        AnyConnection::Sqlite(c) => diesel::insert_into(contacts::table).values(batch).execute(c)?,
        AnyConnection::Postgresql(c) => diesel::insert_into(contacts::table).values(batch).execute(c)?,
    };
    Ok(())
}

/// Adds `count` fake contacts (each with its creation in the status history),
/// calling `progress` with the number written so far.
pub fn seed_contacts(
    conn: &mut AnyConnection,
    count: u64,
    attributes: Option<&SeedAttributes>,
    mut progress: impl FnMut(u64),
) -> Result<u64, AppError> {
    if let AnyConnection::Sqlite(c) = conn {
        // Fake data can be seeded again after a crash: trade durability for
        // speed, and give the index builds room in memory.
        use diesel::connection::SimpleConnection;
        c.batch_execute("PRAGMA synchronous = OFF; PRAGMA cache_size = -262144;")?;
    }
    let owners = owners(conn)?;
    let start: i64 = contacts::table
        .select(max(contacts::id))
        .first::<Option<i32>>(conn)?
        .unwrap_or(0)
        .into();
    let mut rng = StdRng::seed_from_u64(start as u64 ^ 0x1ead_b00c);
    let now = Utc::now().naive_utc();
    let mut written = 0u64;
    while written < count {
        let size = BATCH.min((count - written) as usize);
        let batch: Vec<SeedContact> = (0..size as u64)
            .map(|i| {
                let n = start as u64 + written + i;
                let name = fake_name(&mut rng);
                let created_at = now - Duration::minutes(rng.gen_range(60..365 * 24 * 60));
                let active = rng.gen_bool(0.85);
                let last_activity_at = active.then(|| {
                    let span = (now - created_at).num_minutes().max(1);
                    created_at + Duration::minutes(rng.gen_range(0..span))
                });
                let handle: String = name
                    .split_whitespace()
                    .filter(|w| !matches!(*w, "bin" | "binti" | "a/l"))
                    .collect::<Vec<_>>()
                    .join(".")
                    .to_lowercase();
                SeedContact {
                    email: rng
                        .gen_bool(0.8)
                        .then(|| format!("{handle}{n}@{}", pick(&mut rng, DOMAINS))),
                    phone: rng.gen_bool(0.9).then(|| fake_phone(n)),
                    company: rng.gen_bool(0.6).then(|| {
                        format!(
                            "{} {} Sdn Bhd",
                            pick(&mut rng, COMPANY_WORDS),
                            pick(&mut rng, COMPANY_KINDS)
                        )
                    }),
                    city: Some(pick(&mut rng, CITIES).to_string()),
                    country: Some("MY".into()),
                    status_id: fake_status(&mut rng),
                    owner_id: rng.gen_bool(0.7).then(|| owners[rng.gen_range(0..owners.len())]),
                    created_at,
                    updated_at: last_activity_at.unwrap_or(created_at),
                    last_activity_at,
                    name,
                }
            })
            .collect();
        write_transaction(conn, |conn| {
            let before: i32 = contacts::table
                .select(max(contacts::id))
                .first::<Option<i32>>(conn)?
                .unwrap_or(0);
            insert_batch(conn, &batch)?;
            // Each contact's creation is the first entry of its history.
            diesel::insert_into(status_history::table)
                .values(contacts::table.filter(contacts::id.gt(before)).select((
                    contacts::id,
                    None::<i32>.into_sql::<Nullable<diesel::sql_types::Integer>>(),
                    contacts::status_id,
                    "import".into_sql::<Text>(),
                    contacts::created_at,
                )))
                .into_columns((
                    status_history::contact_id,
                    status_history::from_id,
                    status_history::to_id,
                    status_history::source,
                    status_history::at,
                ))
                .execute(conn)?;
            if let Some(attrs) = attributes {
                let ids: Vec<i32> = contacts::table
                    .filter(contacts::id.gt(before))
                    .select(contacts::id)
                    .load(conn)?;
                insert_values(conn, &seed_values(&ids, attrs))?;
            }
            Ok::<_, AppError>(())
        })?;
        written += size as u64;
        progress(written);
    }
    if let AnyConnection::Postgresql(c) = conn {
        // Fresh statistics, as autovacuum would gather a little later:
        // without them PostgreSQL plans the list's filters for empty tables
        // (it looked up and sorted every "plan = gold" contact, 40 ms, where
        // a walk of the sort's index takes 2 ms).
        use diesel::connection::SimpleConnection;
        // VACUUM also marks the new pages all-visible, so index-only scans
        // need no heap visits.
        c.batch_execute("VACUUM ANALYZE")?;
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_phones_are_unique_and_valid() {
        let mut seen = std::collections::HashSet::new();
        for n in (0..200_000).chain(9_999_990..10_000_010) {
            let phone = fake_phone(n);
            assert!(seen.insert(phone.clone()), "{phone} repeated");
        }
        for n in [0, 1, 12_345_678] {
            let parsed = super::super::contact_fields::Phone::parse(&fake_phone(n), phonenumber::country::Id::MY);
            assert!(parsed.is_ok(), "{}", fake_phone(n));
        }
    }
}
