//! The fuzz targets' bodies: what each one feeds leadbook and what must hold
//! of every answer. The same code runs under cargo-fuzz (`fuzz/fuzz_targets/`,
//! nightly, coverage-guided) and on stable over the kept corpus
//! (`tests/fuzz_corpus.rs`, part of `cargo test`), so a crash found once
//! stays fixed. A panic is a finding; so is a broken invariant below.

use leadbook::service::attributes::{Definition, Kind};
use leadbook::service::contact_fields::{Email, Phone, MAX_TEXT};
use leadbook::service::import::{self, ImportOptions};
use leadbook::service::listing::ContactQuery;
use phonenumber::country::Id as CountryId;

/// A target's body: it gets the fuzzer's bytes and panics on a finding.
pub type Body = fn(&[u8]);

/// The targets by name, as `fuzz/corpus/<name>/` and the fuzz binaries spell them.
pub const TARGETS: [(&str, Body); 4] = [
    ("csv_import", csv_import),
    ("phone", phone),
    ("email", email),
    ("list_query", list_query),
];

/// The import's reading of a CSV file: refusal of the whole file with a
/// sentence, or rows that each start on a later line than the one before,
/// keep their cells, and fold into a person that an earlier good row began.
pub fn csv_import(data: &[u8]) {
    let defs = [Definition {
        id: 1,
        key: "plan".into(),
        display_name: "Plan".into(),
        description: String::new(),
        kind: Kind::List,
        options: vec!["gold".into(), "silver".into()],
        position: 1,
    }];
    // The first byte picks the options, so the fuzzer reaches both.
    let options = ImportOptions {
        ignore_unknown: data.first().is_some_and(|b| b & 1 == 1),
        ignore: vec!["notes".into()],
        ..ImportOptions::default()
    };
    let data = data.get(1..).unwrap_or_default();
    match import::read_file(data, &defs, &options, CountryId::MY) {
        Err(message) => assert!(!message.trim().is_empty(), "a refusal says why"),
        Ok((header, rows)) => {
            assert!(!rows.is_empty(), "a file without rows is refused");
            let mut last_line = 1;
            let mut people = std::collections::HashSet::new();
            for row in &rows {
                assert!(row.line > last_line, "line {} after line {last_line}", row.line);
                last_line = row.line;
                let cells: Vec<String> = serde_json::from_str(&row.cells).expect("cells are a JSON array of text");
                match &row.read_error {
                    Some(problem) => assert!(!problem.is_empty()),
                    None => {
                        assert_eq!(cells.len(), header.len(), "a good row has the header's width");
                        if row.person == row.line {
                            people.insert(row.line);
                        } else {
                            assert!(
                                people.contains(&row.person),
                                "line {} folds into {}, which began no person",
                                row.line,
                                row.person
                            );
                        }
                    }
                }
            }
        }
    }
}

/// Phone numbers: anything accepted is E.164 (`+` and at most 15 digits)
/// and reads back to itself whatever the default country. There is no
/// minimum beyond the country code: how short a valid number may be is
/// libphonenumber's metadata per country (`+431112`, Vienna, has six).
pub fn phone(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    for country in [CountryId::MY, CountryId::US, CountryId::GB] {
        let Ok(number) = Phone::parse(&text, country) else {
            continue;
        };
        let number = number.into_inner();
        let digits = number.strip_prefix('+').expect("E.164 starts with +");
        assert!(
            digits.bytes().all(|b| b.is_ascii_digit()) && (2..=15).contains(&digits.len()),
            "{number:?} from {text:?} is not E.164"
        );
        for again in [CountryId::MY, CountryId::DE] {
            assert_eq!(
                Phone::parse(&number, again).map(Phone::into_inner).as_deref(),
                Ok(number.as_str()),
                "{number:?} does not read back to itself"
            );
        }
    }
}

/// E-mail addresses: anything accepted is lower-case, trimmed, one line,
/// at most 255 characters, has an `@`, and reads back to itself.
pub fn email(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let Ok(address) = Email::parse(&text) else { return };
    let address = address.into_inner();
    assert_eq!(address, address.to_lowercase());
    assert_eq!(address, address.trim());
    assert!(
        !address.chars().any(char::is_control),
        "{address:?} holds a control character"
    );
    assert!(address.chars().count() <= MAX_TEXT);
    assert!(address.contains('@'));
    assert_eq!(
        Email::parse(&address).map(Email::into_inner).as_deref(),
        Ok(address.as_str())
    );
}

/// The list's query string: refused with a sentence, or parsed into a query
/// whose sort is one of the whitelist's (or a custom attribute) and whose own links
/// ([`ContactQuery::to_pairs`]) read back to the same query.
pub fn list_query(data: &[u8]) {
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(data).into_owned().collect();
    let parsed = ContactQuery::parse(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let query = match parsed {
        Err(message) => {
            assert!(!message.trim().is_empty(), "a refusal says why");
            return;
        }
        Ok(query) => query,
    };
    let sort = query.sort.as_param();
    assert!(
        ["status", "name", "created", "activity", "score", "owner"].contains(&sort.as_str())
            || sort.starts_with("attr.")
    );
    assert!(["asc", "desc"].contains(&query.order.as_str()));
    assert!(
        query.statuses.windows(2).all(|w| w[0] < w[1]),
        "statuses sorted, once each"
    );
    let again = query.to_pairs();
    let reparsed = ContactQuery::parse(again.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .unwrap_or_else(|e| panic!("the query's own link {again:?} is refused: {e}"));
    assert_eq!(reparsed, query, "the query's own link {again:?} reads back differently");
}
