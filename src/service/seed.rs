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
use crate::db::schema::{contact_attribute_values, contacts, seed_duplicates, status_history, users};
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

/// Writes one batch, each contact with its creation as the first entry of
/// its history (and plan and budget when asked); returns the new IDs in order.
fn write_batch(
    conn: &mut AnyConnection,
    batch: &[SeedContact],
    attributes: Option<&SeedAttributes>,
) -> Result<Vec<i32>, AppError> {
    write_transaction(conn, |conn| {
        let before: i32 = contacts::table
            .select(max(contacts::id))
            .first::<Option<i32>>(conn)?
            .unwrap_or(0);
        insert_batch(conn, batch)?;
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
        let ids: Vec<i32> = contacts::table
            .filter(contacts::id.gt(before))
            .order(contacts::id)
            .select(contacts::id)
            .load(conn)?;
        if let Some(attrs) = attributes {
            insert_values(conn, &seed_values(&ids, attrs))?;
        }
        Ok(ids)
    })
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
        write_batch(conn, &batch, attributes)?;
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

/// The kinds of duplicate `--duplicates` plants, one of each in turn: the
/// kinds the duplicate finder looks for (see docs/duplicates.md).
pub const DUPLICATE_KINDS: [&str; 4] = ["mailbox", "phone_in_name", "name_written_differently", "similar_name"];

/// A seeded contact that a duplicate is made from.
type Original = (
    i32,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// Whether `original` carries what a duplicate of `kind` copies. Name
/// variants need a company: the seed's few hundred names repeat across
/// thousands of customers, and only the same company and city tell a human
/// (or the finder) that `siti.rahman` is this Siti binti Rahman.
fn suits(kind: &str, original: &Original) -> bool {
    match kind {
        "mailbox" => original.2.is_some(),
        "phone_in_name" => original.3.is_some(),
        _ => original.4.is_some() && original.5.is_some(),
    }
}

/// The name as a person might write it again: a handle, another case,
/// other spacing or punctuation; never the same text.
fn name_variant(rng: &mut StdRng, name: &str) -> String {
    let words: Vec<&str> = name
        .split_whitespace()
        .filter(|w| !matches!(*w, "bin" | "binti" | "a/l"))
        .collect();
    let variant = match rng.gen_range(0..5) {
        0 => words.join(".").to_lowercase(),
        1 => format!("@{}", words.join("_").to_lowercase()),
        2 => name.to_uppercase(),
        3 => name.split_whitespace().collect::<Vec<_>>().join("  "),
        _ => format!("{}.", name.to_lowercase()),
    };
    if variant == name {
        format!("{name}.")
    } else {
        variant
    }
}

/// The name with one letter of one word (of three letters or more, not a
/// connector) changed, dropped or swapped with its neighbour.
fn name_typo(rng: &mut StdRng, name: &str) -> String {
    let mut words: Vec<String> = name.split_whitespace().map(str::to_string).collect();
    let eligible: Vec<usize> = (0..words.len())
        .filter(|&i| {
            let w = &words[i];
            w.chars().count() >= 3 && w.chars().all(char::is_alphabetic) && !matches!(w.as_str(), "bin" | "binti")
        })
        .collect();
    let Some(&which) = eligible.get(rng.gen_range(0..eligible.len().max(1))) else {
        return format!("{name}x");
    };
    let mut letters: Vec<char> = words[which].chars().collect();
    // Not the first letter: people rarely mistype the start of a name.
    let at = rng.gen_range(1..letters.len());
    match rng.gen_range(0..3) {
        0 => {
            let old = letters[at].to_ascii_lowercase();
            let mut new = old;
            while new == old {
                new = (b'a' + rng.gen_range(0..26u8)) as char;
            }
            letters[at] = new;
        }
        1 if letters.len() > 3 => {
            letters.remove(at);
        }
        _ => {
            let other = if at + 1 < letters.len() { at + 1 } else { at - 1 };
            if letters[at] == letters[other] {
                letters.insert(at, 'h');
            } else {
                letters.swap(at, other);
            }
        }
    }
    words[which] = letters.into_iter().collect();
    words.join(" ")
}

/// Another address to the same mailbox: Gmail's dots and `+tags`.
fn mailbox_variant(rng: &mut StdRng, email: &str) -> String {
    let (local, domain) = email.rsplit_once('@').unwrap_or((email, "gmail.com"));
    let tag = ["shop", "promo", "work", "wa", "orders"][rng.gen_range(0..5)];
    if domain == "gmail.com" {
        match rng.gen_range(0..3) {
            0 if local.contains('.') => return format!("{}@gmail.com", local.replace('.', "")),
            1 => return format!("{local}@googlemail.com"),
            _ => {}
        }
    }
    format!("{local}+{tag}@{domain}")
}

/// A Malaysian number in E.164 as people write it: `+60123456789` → `012-345 6789`.
fn local_phone(e164: &str) -> String {
    let national = format!("0{}", e164.trim_start_matches("+60"));
    let (head, rest) = national.split_at(3.min(national.len()));
    let (middle, tail) = rest.split_at(rest.len().saturating_sub(4));
    format!("{head}-{middle} {tail}")
}

/// Adds `percent`% of `seeded` more contacts, each a duplicate of a random
/// contact among the last `seeded` (this seed's), of the kinds in
/// [`DUPLICATE_KINDS`] in turn, and records each pair in `seed_duplicates`.
/// Duplicates have no phone or email of their own unless it is a variant
/// that differs as text, so the unique columns stay unique. Returns how
/// many were planted.
pub fn plant_duplicates(conn: &mut AnyConnection, percent: f64, seeded: u64) -> Result<u64, AppError> {
    use std::collections::HashSet;
    let wanted = (percent / 100.0 * seeded as f64).round() as u64;
    let last: i32 = contacts::table
        .select(max(contacts::id))
        .first::<Option<i32>>(conn)?
        .unwrap_or(0);
    let first = (i64::from(last) - seeded as i64 + 1).max(1) as i32;
    if wanted == 0 || last < first {
        return Ok(0);
    }
    let owners = owners(conn)?;
    let mut rng = StdRng::seed_from_u64(u64::from(last.unsigned_abs()) ^ 0xd00b_1e5d);
    let now = Utc::now().naive_utc();
    let mut used: HashSet<i32> = HashSet::new();
    let mut planted = 0u64;
    let mut stalled = 0;
    while planted < wanted && stalled < 20 {
        let size = BATCH.min((wanted - planted) as usize);
        let sample: Vec<i32> = (0..size * 4).map(|_| rng.gen_range(first..=last)).collect();
        let pool: Vec<Original> = contacts::table
            .filter(contacts::id.eq_any(&sample))
            .select((
                contacts::id,
                contacts::name,
                contacts::email,
                contacts::phone,
                contacts::company,
                contacts::city,
            ))
            .load(conn)?;
        let mut batch = Vec::with_capacity(size);
        let mut pairs: Vec<(i32, &'static str)> = Vec::with_capacity(size);
        for slot in 0..size as u64 {
            let kind = DUPLICATE_KINDS[((planted + slot) % DUPLICATE_KINDS.len() as u64) as usize];
            let Some(original) = pool.iter().find(|o| !used.contains(&o.0) && suits(kind, o)) else {
                continue;
            };
            used.insert(original.0);
            let (_, name, email, phone, company, city) = original.clone();
            let keep_place = (kind != "mailbox" && kind != "phone_in_name") || rng.gen_bool(0.5);
            let (name, email) = match kind {
                "mailbox" => {
                    let name = if rng.gen_bool(0.5) {
                        name
                    } else {
                        name_variant(&mut rng, &name)
                    };
                    (name, email.map(|e| mailbox_variant(&mut rng, &e)))
                }
                "phone_in_name" => (local_phone(phone.as_deref().unwrap_or("")), None),
                "name_written_differently" => (name_variant(&mut rng, &name), None),
                _ => (name_typo(&mut rng, &name), None),
            };
            let created_at = now - Duration::minutes(rng.gen_range(60..30 * 24 * 60));
            batch.push(SeedContact {
                name,
                email,
                phone: None,
                company: if keep_place {
                    company
                } else {
                    rng.gen_bool(0.6).then(|| {
                        format!(
                            "{} {} Sdn Bhd",
                            pick(&mut rng, COMPANY_WORDS),
                            pick(&mut rng, COMPANY_KINDS)
                        )
                    })
                },
                city: if keep_place {
                    city
                } else {
                    Some(pick(&mut rng, CITIES).to_string())
                },
                country: Some("MY".into()),
                status_id: fake_status(&mut rng),
                owner_id: rng.gen_bool(0.7).then(|| owners[rng.gen_range(0..owners.len())]),
                created_at,
                updated_at: created_at,
                last_activity_at: Some(created_at),
            });
            pairs.push((original.0, kind));
        }
        if batch.is_empty() {
            stalled += 1;
            continue;
        }
        write_transaction(conn, |conn| {
            let ids = write_batch(conn, &batch, None)?;
            let rows: Vec<_> = ids
                .iter()
                .zip(&pairs)
                .map(|(&id, &(original, kind))| {
                    (
                        seed_duplicates::contact_id.eq(id),
                        seed_duplicates::original_id.eq(original),
                        seed_duplicates::kind.eq(kind),
                    )
                })
                .collect();
            match conn {
                AnyConnection::Sqlite(c) => diesel::insert_into(seed_duplicates::table).values(&rows).execute(c)?,
                AnyConnection::Postgresql(c) => diesel::insert_into(seed_duplicates::table).values(&rows).execute(c)?,
            };
            Ok::<_, AppError>(())
        })?;
        planted += batch.len() as u64;
    }
    Ok(planted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn planted_variants_differ_as_text_but_not_to_the_finder() {
        use super::super::duplicates::{compact_name, mailbox};
        let mut rng = StdRng::seed_from_u64(7);
        for _ in 0..500 {
            let name = fake_name(&mut rng);
            let variant = name_variant(&mut rng, &name);
            assert_ne!(variant, name);
            assert_eq!(compact_name(&variant), compact_name(&name), "{name} → {variant}");
            let typo = name_typo(&mut rng, &name);
            assert_ne!(typo, name);
            assert_ne!(compact_name(&typo), compact_name(&name), "{name} → {typo}");
            let email = "siti.rahman42@gmail.com";
            let other = mailbox_variant(&mut rng, email);
            assert_ne!(other, email);
            assert_eq!(mailbox(&other), mailbox(email));
        }
        assert_eq!(local_phone("+60123456789"), "012-345 6789");
    }

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
