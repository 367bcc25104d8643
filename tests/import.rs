//! Import (issue 7, docs/decisions.md "Import") on the backend `TEST_DATABASE_URL` picks,
//! through the real `leadbook import` command and the service: the sample
//! file's outcome, files refused as a whole, rows rejected alone, the file
//! formats read, folding and matching, the export → import round trip, and
//! an import killed mid-commit and run again.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use common::snap::{add_user, assert_same, by_key, snapshot, Snap};
use common::{fresh_database, TestDb};
use diesel::prelude::*;
use leadbook::db::schema::{
    contact_attribute_values, contact_labels, contacts, import_rows, imports, status_history, users,
};
use leadbook::db::{self, AnyConnection};
use leadbook::service::attributes::{self, Definition, DefinitionInput};
use leadbook::service::contact_fields::Phone;
use leadbook::service::contacts::{self as contact_service, Contact, ContactDraft, ContactInput};
use leadbook::service::status::StatusSource;
use leadbook::service::users::{Actor, Role};
use leadbook::service::{import, labels as label_service};

/// The sample of /work/shared/data (README there), copied as it is.
const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/import-sample.csv");

/// A fresh database of the backend under test with one admin, a
/// connection to it, and a folder for the files a test writes.
struct Db {
    url: String,
    conn: AnyConnection,
    admin: Actor,
    dir: tempfile::TempDir,
    _guard: TestDb,
}

/// What one run of the binary did.
struct Run {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Run {
    fn last_line(&self) -> &str {
        self.stdout.lines().last().unwrap_or("")
    }

    /// The counts line of an import that must have succeeded.
    #[track_caller]
    fn counts(&self) -> &str {
        assert!(
            self.status.success(),
            "import failed ({}): {}\n{}",
            self.status,
            self.stderr,
            self.stdout
        );
        self.last_line()
    }

    /// The message of a run that must have failed.
    #[track_caller]
    fn refusal(&self) -> &str {
        assert!(
            !self.status.success(),
            "expected a refusal, got success: {}",
            self.stdout
        );
        &self.stderr
    }
}

fn leadbook(url: &str, args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_leadbook"))
        .args(args)
        .env("DATABASE_URL", url)
        .env("RUST_LOG", "warn")
        .env_remove("DEFAULT_COUNTRY")
        .output()
        .expect("run leadbook");
    Run {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn connect(url: &str) -> AnyConnection {
    let parsed = db::DatabaseUrl::parse(url).expect("database URL");
    let mut conn = db::establish(&parsed).expect("connect");
    db::migrate(&mut conn).expect("migrate");
    conn
}

impl Db {
    fn new() -> Db {
        let (url, guard) = fresh_database();
        let mut conn = connect(&url);
        let admin = add_user(&mut conn, "admin@example.com", "Ada Admin", Role::Admin);
        Db {
            url,
            conn,
            admin,
            dir: tempfile::tempdir().expect("temp dir"),
            _guard: guard,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, bytes).expect("write file");
        path
    }

    fn run(&self, args: &[&str]) -> Run {
        leadbook(&self.url, args)
    }

    /// `leadbook import FILE ARGS…`
    fn import(&self, file: &Path, args: &[&str]) -> Run {
        let mut all = vec!["import", file.to_str().expect("UTF-8 path")];
        all.extend_from_slice(args);
        self.run(&all)
    }

    fn define(&mut self, key: &str, kind: &str, options: &[&str]) -> Definition {
        let input = DefinitionInput {
            key: key.into(),
            display_name: key.into(),
            kind: kind.into(),
            options: options.iter().map(|o| o.to_string()).collect(),
            ..Default::default()
        };
        attributes::create(&mut self.conn, &self.admin, &input).expect("attribute defined")
    }

    fn label(&mut self, name: &str) {
        label_service::create(&mut self.conn, &self.admin, name, "#336699").expect("label defined");
    }

    fn contact_count(&mut self) -> i64 {
        contacts::table.count().get_result(&mut self.conn).expect("count")
    }

    fn table_counts(&mut self) -> [i64; 4] {
        let c = &mut self.conn;
        [
            contacts::table.count().get_result(c).unwrap(),
            status_history::table.count().get_result(c).unwrap(),
            contact_attribute_values::table.count().get_result(c).unwrap(),
            contact_labels::table.count().get_result(c).unwrap(),
        ]
    }

    fn snapshot(&mut self) -> Vec<Snap> {
        snapshot(&mut self.conn)
    }

    /// The contact holding this identifier, email or phone.
    #[track_caller]
    fn contact(&mut self, key: &str) -> Snap {
        let found: Vec<Snap> = self.snapshot().into_iter().filter(|s| s.has_key(key)).collect();
        assert_eq!(found.len(), 1, "one contact holds {key}: {found:#?}");
        found.into_iter().next().unwrap()
    }

    fn has_contact(&mut self, key: &str) -> bool {
        self.snapshot().iter().any(|s| s.has_key(key))
    }

    /// The latest import's ID.
    fn last_import(&mut self) -> i32 {
        imports::table
            .select(imports::id)
            .order(imports::id.desc())
            .first(&mut self.conn)
            .expect("an import was recorded")
    }

    /// The rejected rows of the latest import: (line, error).
    fn rejected_lines(&mut self) -> Vec<(i64, String)> {
        let id = self.last_import();
        import::rejected(&mut self.conn, &self.admin, id, 1_000)
            .expect("rejected rows")
            .into_iter()
            .map(|r| (r.line, r.error))
            .collect()
    }

    fn user_id(&mut self, email: &str) -> i32 {
        users::table
            .filter(users::email.eq(email))
            .select(users::id)
            .first(&mut self.conn)
            .expect("user")
    }
}

/// A CSV file's records, as the csv crate reads them.
fn records(bytes: &[u8]) -> Vec<Vec<String>> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes)
        .records()
        .map(|r| r.expect("valid CSV").iter().map(str::to_string).collect())
        .collect()
}

/// The sample's README: the sample file with `plan` (list: gold, silver) and
/// `budget` (number) defined. Dry run, import, the rejected rows, then the
/// same file again changes nothing.
#[test]
fn the_sample_imports_as_its_readme_says() {
    let mut db = Db::new();
    db.define("plan", "list", &["gold", "silver"]);
    db.define("budget", "number", &[]);
    let sample = Path::new(SAMPLE);

    let dry = db.import(sample, &["--dry-run"]);
    assert_eq!(dry.counts(), "created 9, updated 1, skipped 0, rejected 7");
    assert_eq!(db.table_counts(), [0, 0, 0, 0], "a dry run writes nothing");

    let rejected_csv = db.path("rejected.csv");
    let run = db.import(sample, &["--rejected", rejected_csv.to_str().unwrap()]);
    assert_eq!(run.counts(), "created 9, updated 1, skipped 0, rejected 7");
    assert_eq!(db.contact_count(), 9);

    // Line 2 with line 9 folded into it: Reach, gold, 5000.
    let aisyah = db.contact("aisyah.rahman@example.com");
    assert_eq!(aisyah.name, "Aisyah Rahman");
    assert_eq!(aisyah.identifier.as_deref(), Some("shop-0001"));
    assert_eq!(aisyah.phone.as_deref(), Some("+60123456789"));
    assert_eq!(aisyah.status, 2, "Reach");
    assert_eq!(aisyah.value("plan"), Some("gold"));
    assert_eq!(aisyah.number("budget"), Some(5000.0));
    assert_eq!(aisyah.history, vec![(None, 2, "import".to_string())]);

    let tan = db.contact("shop-0002");
    assert_eq!(tan.name, "Tan, Wei Ming");
    assert_eq!(tan.email.as_deref(), Some("weiming.tan@example.com"), "lower-cased");
    assert_eq!(tan.phone.as_deref(), Some("+60123456780"));
    assert_eq!((tan.status, tan.value("plan")), (2, Some("silver")));
    assert_eq!(tan.number("budget"), Some(1200.0));

    let siti = db.contact("shop-0003");
    assert_eq!(siti.name, "Siti Nurhaliza");
    assert_eq!(siti.email, None);
    assert_eq!(siti.phone.as_deref(), Some("+60198765432"));
    assert_eq!(siti.status, 3, "qualified → Qualified");
    assert!(siti.values.is_empty());

    let rajesh = db.contact("rajesh@example.com");
    assert_eq!(rajesh.status, 4, "the alias Disqualified → Unqualified");
    assert_eq!(rajesh.phone.as_deref(), Some("+601137777777"));
    assert_eq!(rajesh.identifier, None);
    assert_eq!(rajesh.value("plan"), Some("gold"));
    assert_eq!(rajesh.value("budget"), None);

    let lim = db.contact("meiling@example.com");
    assert_eq!(lim.status, 5, "Negotiating");
    assert_eq!(lim.number("budget"), Some(800.5));
    assert_eq!(lim.value("budget"), Some("800.5"));
    assert_eq!(lim.phone, None);

    let ahmad = db.contact("ahmad.faizal@example.com");
    assert_eq!(ahmad.status, 6, "status 6 = Won");
    assert_eq!(ahmad.phone.as_deref(), Some("+60162223333"));

    assert_eq!(db.contact("izzati@example.com").status, 7, "Lost");
    let formula = db.contact("formula@example.com");
    assert_eq!(
        formula.name, r#"=HYPERLINK("http://evil.example","click")"#,
        "kept as text"
    );
    assert_eq!(db.contact("xss@example.com").name, "<script>alert(1)</script>");
    for key in [
        "not-an-email",
        "farah@example.com",
        "ravi@example.com",
        "hafiz@example.com",
        "grace@example.com",
        "nobody@example.com",
    ] {
        assert!(!db.has_contact(key), "{key} was rejected, yet written");
    }
    for snap in db.snapshot() {
        assert_eq!(snap.history.len(), 1, "one history entry each: {snap:?}");
        assert_eq!((snap.history[0].0, snap.history[0].2.as_str()), (None, "import"));
        assert_eq!(snap.history[0].1, snap.status);
        assert_eq!(snap.owner, None);
    }

    // The rejected rows: the header and each row as it was, plus `error`.
    let sample_rows = records(&std::fs::read(sample).unwrap());
    let out = records(&std::fs::read(&rejected_csv).expect("rejected rows written"));
    let mut header = sample_rows[0].clone();
    header.push("error".into());
    assert_eq!(out[0], header);
    assert_eq!(out.len(), 8, "header and 7 rows: {out:?}");
    let reasons = [
        "email",
        "phone_number",
        "\"Closed\"",
        "plan",
        "budget",
        "name is required",
        "needs an email, a phone number or an identifier",
    ];
    for (i, reason) in reasons.iter().enumerate() {
        let row = &out[i + 1];
        assert_eq!(
            row[..row.len() - 1],
            sample_rows[i + 9][..],
            "line {} as it was",
            i + 10
        );
        assert!(row.last().unwrap().contains(reason), "line {}: {row:?}", i + 10);
    }
    let lines: Vec<i64> = db.rejected_lines().iter().map(|(l, _)| *l).collect();
    assert_eq!(lines, (10..=16).collect::<Vec<_>>());
    let (state, created, updated): (String, i64, i64) = imports::table
        .find(db.last_import())
        .select((imports::state, imports::created, imports::updated))
        .first(&mut db.conn)
        .unwrap();
    assert_eq!((state.as_str(), created, updated), ("done", 9, 1));

    let before = db.snapshot();
    let again = db.import(sample, &[]);
    assert_eq!(again.counts(), "created 0, updated 0, skipped 10, rejected 7");
    assert_eq!(db.snapshot(), before, "the second import changed nothing");
    let dry = db.import(sample, &["--dry-run"]);
    assert_eq!(dry.counts(), "created 0, updated 0, skipped 10, rejected 7");
}

/// Problems with the file itself refuse it: a non-zero exit, a message
/// naming the problem, nothing written and nothing left staged.
#[test]
fn a_refused_file_writes_nothing() {
    let mut db = Db::new();
    db.define("plan", "list", &["gold", "silver"]);
    let png: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";
    let cases: Vec<(&str, Vec<u8>, Vec<&str>)> = vec![
        ("image.png", png.to_vec(), vec!["not a CSV file", "PNG"]),
        (
            "nul.csv",
            b"name,email\nAli\0\0\0,a@example.com\n".to_vec(),
            vec!["not a CSV file"],
        ),
        ("empty.csv", Vec::new(), vec!["empty"]),
        ("bom-only.csv", b"\xEF\xBB\xBF\r\n".to_vec(), vec!["empty"]),
        ("header.csv", b"name,email,phone\n".to_vec(), vec!["header but no rows"]),
        (
            "header-blank-rows.csv",
            b"name,email\r\n , \r\n\r\n".to_vec(),
            vec!["header but no rows"],
        ),
        (
            "no-name.csv",
            b"email,phone\nali@example.com,+60123456789\n".to_vec(),
            vec!["no \"name\" column"],
        ),
        (
            "email-twice.csv",
            b"name,email,Email \nAli,a@example.com,b@example.com\n".to_vec(),
            vec!["\"email\" and \"Email\"", "same column"],
        ),
        (
            "phone-twice.csv",
            b"name,phone,phone_number\nAli,+60123456789,+60123456789\n".to_vec(),
            vec!["\"phone\" and \"phone_number\"", "same column"],
        ),
        (
            "plan-twice.csv",
            b"name,email,plan,PLAN\nAli,a@example.com,gold,gold\n".to_vec(),
            vec!["\"plan\" and \"PLAN\"", "same column"],
        ),
        (
            "unknown.csv",
            b"name,email,favourite_colour\nAli,a@example.com,blue\n".to_vec(),
            vec!["Unknown column", "\"favourite_colour\""],
        ),
        (
            "unknowns.csv",
            b"name,shoe size,email,hobby\nAli,42,a@example.com,chess\n".to_vec(),
            vec!["Unknown columns", "\"shoe size\"", "\"hobby\""],
        ),
    ];
    for (name, bytes, expected) in &cases {
        let file = db.write(name, bytes);
        let run = db.import(&file, &[]);
        let message = run.refusal();
        for part in expected {
            assert!(message.contains(part), "{name}: {part:?} not in {message:?}");
        }
        assert_eq!(db.table_counts(), [0, 0, 0, 0], "{name}: nothing written");
        let id = db.last_import();
        let (state, error): (String, Option<String>) = imports::table
            .find(id)
            .select((imports::state, imports::error))
            .first(&mut db.conn)
            .unwrap();
        assert_eq!(state, "failed", "{name}");
        assert!(
            error.is_some_and(|e| message.contains(&e)),
            "{name}: the record keeps the message"
        );
        let staged: i64 = import_rows::table
            .filter(import_rows::import_id.eq(id))
            .count()
            .get_result(&mut db.conn)
            .unwrap();
        assert_eq!(staged, 0, "{name}: nothing left staged");
        // A dry run refuses it the same way.
        assert!(!db.import(&file, &["--dry-run"]).status.success(), "{name}: dry run");
    }

    // The unknown column, ignored by name (any case) or with every unknown one.
    let file = db.write("unknown.csv", "name,email,favourite_colour\nAli,ali@example.com,blue\n");
    let run = db.import(&file, &["--ignore", "Favourite_Colour"]);
    assert_eq!(run.counts(), "created 1, updated 0, skipped 0, rejected 0");
    let file = db.write(
        "unknowns.csv",
        "name,shoe size,email,hobby\nBea,42,bea@example.com,chess\n",
    );
    assert!(
        db.import(&file, &["--ignore", "hobby"])
            .refusal()
            .contains("\"shoe size\""),
        "ignoring one column leaves the other unknown"
    );
    let run = db.import(&file, &["--ignore-unknown"]);
    assert_eq!(run.counts(), "created 1, updated 0, skipped 0, rejected 0");
    assert_eq!(db.contact_count(), 2);
    for key in ["ali@example.com", "bea@example.com"] {
        let c = db.contact(key);
        assert!(c.values.is_empty() && c.company.is_none() && c.city.is_none(), "{c:?}");
    }
}

/// Problems with a row reject that row alone, with a reason naming them.
#[test]
fn a_bad_row_rejects_only_itself() {
    let mut db = Db::new();
    add_user(&mut db.conn, "lead@example.com", "Lee Lead", Role::Lead);
    add_user(&mut db.conn, "gone@example.com", "Gone Agent", Role::Agent);
    diesel::update(users::table.filter(users::email.eq("gone@example.com")))
        .set(users::disabled_at.eq(Some(chrono::Utc::now().naive_utc())))
        .execute(&mut db.conn)
        .unwrap();
    // Two existing contacts, for the row whose keys point at both.
    let first = db.write(
        "existing.csv",
        "name,identifier,email\nOld One,ext-1,\nOld Two,,two@example.com\n",
    );
    assert_eq!(
        db.import(&first, &[]).counts(),
        "created 2, updated 0, skipped 0, rejected 0"
    );
    let one = db.contact("ext-1");
    let two = db.contact("two@example.com");

    let mut file: Vec<u8> = Vec::new();
    file.extend_from_slice(b"name,email,phone,identifier,status,owner\n");
    file.extend_from_slice(b"Good One,good1@example.com,,g-1,,LEAD@Example.com\n"); // 2
    file.extend_from_slice(b"Too Few,few@example.com,,f-1\n"); // 3
    file.extend_from_slice(b"Too Many,many@example.com,,m-1,,,extra\n"); // 4
    file.extend_from_slice(b"Bad \xff Name,utf@example.com,,u-1,,\n"); // 5
    file.extend_from_slice(b"Bad Email,not-an-email,,e-1,,\n"); // 6
    file.extend_from_slice(b"Bad Phone,phone@example.com,12345,p-1,,\n"); // 7
    file.extend_from_slice(b"Bad Status,status@example.com,,s-1,Closed,\n"); // 8
    file.extend_from_slice(b"Bad Owner,owner@example.com,,o-1,,stranger@example.com\n"); // 9
    file.extend_from_slice(b"Gone Owner,gone.owner@example.com,,o-2,,gone@example.com\n"); // 10
    file.extend_from_slice(b"Good Two,good2@example.com,+60123456702,g-2,Won,\n"); // 11
    file.extend_from_slice(b"Joiner,good2@example.com,,g-1,,\n"); // 12
    file.extend_from_slice(b"Both,two@example.com,,ext-1,,\n"); // 13
    file.extend_from_slice(b"Good Three,good3@example.com,,,,\n"); // 14
    file.extend_from_slice(b"Pair,pair@example.com,,pr-1,,\n"); // 15
    file.extend_from_slice(b"Pair,,999,pr-1,,\n"); // 16: its person fails, both rows go
    let path = db.write("rows.csv", &file);
    let out = db.path("rejected.csv");
    let run = db.import(&path, &["--rejected", out.to_str().unwrap()]);
    assert_eq!(run.counts(), "created 3, updated 0, skipped 0, rejected 12");

    let good = db.contact("good1@example.com");
    assert_eq!(
        good.owner.as_deref(),
        Some("lead@example.com"),
        "the owner by e-mail, any case"
    );
    assert_eq!(good.identifier.as_deref(), Some("g-1"));
    let good2 = db.contact("g-2");
    assert_eq!((good2.status, good2.phone.as_deref()), (6, Some("+60123456702")));
    assert_eq!(good2.name, "Good Two", "the joining row did not fold into it");
    assert_eq!(db.contact("good3@example.com").name, "Good Three");
    assert_eq!(db.contact_count(), 5);
    assert_eq!(db.contact("ext-1"), one, "untouched");
    assert_eq!(db.contact("two@example.com"), two, "untouched");

    let rejected = db.rejected_lines();
    let expect: [(i64, &[&str]); 12] = [
        (3, &["has 4 cells where the header has 6"]),
        (4, &["has 7 cells where the header has 6"]),
        (5, &["not UTF-8"]),
        (6, &["email is not a valid address"]),
        (7, &["phone_number is not a phone number we can read"]),
        (8, &["\"Closed\" is not a status"]),
        (
            9,
            &["owner \"stranger@example.com\" is not the e-mail of a team member"],
        ),
        (10, &["owner \"gone@example.com\""]),
        (12, &["its identifier is that of line 2", "its email that of line 11"]),
        (
            13,
            &[
                "matches two different contacts",
                &format!("#{} (Old One)", one.id),
                &format!("#{} (Old Two)", two.id),
            ],
        ),
        (15, &["phone_number is not a phone number we can read"]),
        (16, &["phone_number is not a phone number we can read"]),
    ];
    assert_eq!(
        rejected.iter().map(|(l, _)| *l).collect::<Vec<_>>(),
        expect.iter().map(|(l, _)| *l).collect::<Vec<_>>(),
        "{rejected:#?}"
    );
    for ((line, error), (_, parts)) in rejected.iter().zip(&expect) {
        for part in *parts {
            assert!(error.contains(part), "line {line}: {part:?} not in {error:?}");
        }
    }
    // The rejected file holds each row as it was (ragged ones too).
    assert!(!db.has_contact("pair@example.com") && !db.has_contact("pr-1"));
    let rows = records(&std::fs::read(&out).unwrap());
    assert_eq!(rows.len(), 13);
    assert_eq!(
        rows[1],
        [
            "Too Few",
            "few@example.com",
            "",
            "f-1",
            "has 4 cells where the header has 6"
        ]
    );
    assert_eq!(
        rows[2][..7],
        ["Too Many", "many@example.com", "", "m-1", "", "", "extra"]
    );
    assert!(
        rows[3][0].starts_with("Bad ") && rows[3][0].ends_with(" Name"),
        "{:?}",
        rows[3]
    );
    assert_eq!(rows[9][0], "Joiner");
    assert_eq!(rows[10][..6], ["Both", "two@example.com", "", "ext-1", "", ""]);
}

/// The formats an import reads: semicolons with decimal commas, a BOM,
/// header case and spaces, trimmed cells, dates, booleans, list options in
/// any case, the export's `'` undone once; RFC 4180 quoting with commas,
/// doubled quotes and line breaks (later rows keep their line numbers).
#[test]
fn the_formats_a_spreadsheet_writes_are_read() {
    let mut db = Db::new();
    db.define("budget", "number", &[]);
    db.define("joined", "date", &[]);
    db.define("vip", "boolean", &[]);
    db.define("plan", "list", &["Gold", "silver"]);

    let semicolons = concat!(
        "\u{feff}  Name ;  EMAIL ;Phone;Budget;JOINED;vip;plan;company\r\n",
        "  Ali Hassan  ; ALI@Example.com ; 012-345 6701 ;1234,5;31/12/2025;yes;GOLD;'=SUM(A1)\r\n",
        "Bea;bea@example.com;;12,25;2025-01-02;no;Silver;''=1+1\r\n",
        "Cai;cai@example.com;;1000;02/01/2025;1;silver;'hello\r\n",
        "Dan;dan@example.com;;-7;;0;;\"Dan; Sons\"\r\n",
        "Eve;eve@example.com;;1.234,5;;;;\r\n",
        "Fay;fay@example.com;;;31/02/2025;;;\r\n",
        "Gus;gus@example.com;;;;maybe;;\r\n",
        "Hal;hal@example.com;;;;;platinum;\r\n",
    );
    let path = db.write("semicolons.csv", semicolons);
    assert_eq!(
        db.import(&path, &[]).counts(),
        "created 4, updated 0, skipped 0, rejected 4"
    );
    let ali = db.contact("ali@example.com");
    assert_eq!(ali.name, "Ali Hassan");
    assert_eq!(ali.phone.as_deref(), Some("+60123456701"));
    assert_eq!(
        (ali.value("budget"), ali.number("budget")),
        (Some("1234.5"), Some(1234.5))
    );
    assert_eq!(ali.value("joined"), Some("2025-12-31"));
    assert_eq!(ali.value("vip"), Some("true"));
    assert_eq!(ali.value("plan"), Some("Gold"), "spelt as the option is");
    assert_eq!(ali.company.as_deref(), Some("=SUM(A1)"), "one ' removed");
    let bea = db.contact("bea@example.com");
    assert_eq!(bea.number("budget"), Some(12.25));
    assert_eq!(bea.value("joined"), Some("2025-01-02"));
    assert_eq!(bea.value("vip"), Some("false"));
    assert_eq!(bea.value("plan"), Some("silver"));
    assert_eq!(bea.company.as_deref(), Some("'=1+1"), "exactly one ' removed");
    let cai = db.contact("cai@example.com");
    assert_eq!(cai.value("joined"), Some("2025-01-02"), "DD/MM/YYYY");
    assert_eq!(cai.value("vip"), Some("true"));
    assert_eq!(cai.number("budget"), Some(1000.0));
    assert_eq!(
        cai.company.as_deref(),
        Some("'hello"),
        "not a neutralised formula: kept"
    );
    let dan = db.contact("dan@example.com");
    assert_eq!((dan.number("budget"), dan.value("vip")), (Some(-7.0), Some("false")));
    assert_eq!(dan.company.as_deref(), Some("Dan; Sons"));
    assert_eq!(dan.value("joined"), None);
    let rejected = db.rejected_lines();
    let expect = [(6, "budget"), (7, "joined"), (8, "vip"), (9, "plan")];
    assert_eq!(rejected.len(), expect.len(), "{rejected:?}");
    for ((line, error), (want_line, field)) in rejected.iter().zip(expect) {
        assert_eq!(*line, want_line, "{rejected:?}");
        assert!(error.starts_with(field), "line {line}: {error}");
    }

    // Commas, RFC 4180 quoting, line breaks inside quoted cells.
    let commas = concat!(
        "name,email,notes,company,identifier,budget\n",
        "\"Tan, \"\"Wei\"\" Ming\",tan@example.com,\"first line\nsecond line\",\"Acme, \"\"The Best\"\"\",,800.5\n", // 2-3
        "Multi,multi@example.com,,\"Two\nLines\",,\n",  // 4-5
        "Good,good@example.com,,\"Comma, Inc\",g-1,\n", // 6
        "Late,not-an-email,,,,\n",                      // 7
        "Conflict,tan@example.com,,,g-1,\n",            // 8
        "Eu,eu@example.com,\"a\r\nb\",,,\"1234,5\"\n",  // 9-10
        "Last,last@example.com,,,,\n",                  // 11
        "Late Again,,,,,\n",                            // 12
    );
    let path = db.write("commas.csv", commas);
    let out = db.path("rejected.csv");
    let run = db.import(&path, &["--ignore", "notes", "--rejected", out.to_str().unwrap()]);
    assert_eq!(run.counts(), "created 3, updated 0, skipped 0, rejected 5");
    let tan = db.contact("tan@example.com");
    assert_eq!(tan.name, r#"Tan, "Wei" Ming"#);
    assert_eq!(tan.company.as_deref(), Some(r#"Acme, "The Best""#));
    assert_eq!(tan.number("budget"), Some(800.5));
    assert_eq!(db.contact("g-1").company.as_deref(), Some("Comma, Inc"));
    assert_eq!(db.contact("last@example.com").name, "Last");
    let rejected = db.rejected_lines();
    assert_eq!(
        rejected.iter().map(|(l, _)| *l).collect::<Vec<_>>(),
        [4, 7, 8, 9, 12],
        "lines as the file numbers them: {rejected:#?}"
    );
    assert!(rejected[0].1.contains("company"), "{}", rejected[0].1);
    assert!(
        rejected[2].1.contains("line 6") && rejected[2].1.contains("line 2"),
        "the conflict names lines 6 and 2: {}",
        rejected[2].1
    );
    assert!(
        rejected[3].1.contains("budget"),
        "a decimal comma only in a semicolon file: {}",
        rejected[3].1
    );
    let rows = records(&std::fs::read(&out).unwrap());
    assert_eq!(
        rows[0],
        ["name", "email", "notes", "company", "identifier", "budget", "error"]
    );
    assert_eq!(rows[1][..6], ["Multi", "multi@example.com", "", "Two\nLines", "", ""]);
    assert_eq!(rows[4][..6], ["Eu", "eu@example.com", "a\r\nb", "", "", "1234,5"]);

    // Lines ended by `\r` alone (old Mac spreadsheets), `\r\n` or `\n`,
    // with blank lines between rows: each row keeps its own line number.
    for (ending, name) in [("\r", "cr.csv"), ("\r\n", "crlf.csv"), ("\n", "lf.csv")] {
        let tag = name.trim_end_matches(".csv");
        let lines = [
            "name,email".to_string(),
            format!("A,a.{tag}@example.com"),
            "B,bad".to_string(),
            String::new(),
            String::new(),
            format!("C,c.{tag}@example.com"),
            ",".to_string(),
            "D,bad2".to_string(),
            format!("\"E\",\"e.{tag}@example.com\""),
            "F,bad3".to_string(),
        ];
        let path = db.write(name, lines.join(ending) + ending);
        assert_eq!(
            db.import(&path, &[]).counts(),
            "created 3, updated 0, skipped 0, rejected 3",
            "{name}"
        );
        let rejected: Vec<i64> = db.rejected_lines().iter().map(|(l, _)| *l).collect();
        assert_eq!(rejected, [3, 8, 10], "{name}");
        assert_eq!(db.contact(&format!("e.{tag}@example.com")).name, "E");
    }
}

/// Rows of one person fold (last non-blank value wins, blanks never erase)
/// and count per docs/decisions.md "Import"; a person matches an existing contact by
/// identifier, then email, then phone, and updates it without erasing;
/// labels are added; the same file again changes nothing.
#[test]
fn rows_fold_into_people_and_people_match_contacts() {
    let mut db = Db::new();
    db.define("plan", "list", &["gold", "silver"]);
    db.define("budget", "number", &[]);
    for name in ["old", "vip", "hot"] {
        db.label(name);
    }

    let rows = concat!(
        "name,email,phone_number,identifier,company,city,status,plan,budget,labels\n",
        "Ana,ana@example.com,,ana-1,Acme,Ipoh,New,gold,,old\n", // created
        "Ana Lee,,+60123450001,ana-1,,,Reach,,100,\n",          // changes name, phone, status, budget: updated
        "Ana Lee,ana@example.com,,,,,,,,\n",                    // changes nothing: skipped
        ",,+60123450001,,Beta,,,,,vip\n",                       // company, a label: updated
        "Ana Lee,,,ana-1,,,,,,\n",                              // nothing: skipped
        "Ben,ben@example.com,,,,,,,,\n",                        // created
    );
    let path = db.write("fold.csv", rows);
    assert_eq!(
        db.import(&path, &["--dry-run"]).counts(),
        "created 2, updated 2, skipped 2, rejected 0"
    );
    assert_eq!(
        db.import(&path, &[]).counts(),
        "created 2, updated 2, skipped 2, rejected 0"
    );
    assert_eq!(db.contact_count(), 2);
    let ana = db.contact("ana-1");
    assert_eq!(ana.name, "Ana Lee");
    assert_eq!(ana.email.as_deref(), Some("ana@example.com"));
    assert_eq!(ana.phone.as_deref(), Some("+60123450001"));
    assert_eq!(ana.company.as_deref(), Some("Beta"), "the last non-blank value");
    assert_eq!(ana.city.as_deref(), Some("Ipoh"), "blanks never erase");
    assert_eq!(ana.status, 2);
    assert_eq!(ana.value("plan"), Some("gold"));
    assert_eq!(ana.number("budget"), Some(100.0));
    // Labels too: the last non-blank cell wins within the file.
    assert_eq!(ana.labels, ["vip"]);
    assert_eq!(
        ana.history,
        vec![(None, 2, "import".to_string())],
        "created once, as Reach"
    );

    // The same values written differently do not change anything.
    let spellings = concat!(
        "name,email,phone_number,identifier,status,plan,budget\n",
        "Cat,cat@example.com,+60123450003,cat-1,Reach,gold,100\n", // created
        "Cat,CAT@Example.com,012-345 0003,cat-1,reach,GOLD,100.0\n", // the same person, the same values
    );
    let path = db.write("spellings.csv", spellings);
    assert_eq!(
        db.import(&path, &[]).counts(),
        "created 1, updated 0, skipped 1, rejected 0",
        "a row that writes the same values in other spellings changes nothing"
    );

    // Existing contacts, matched by identifier, email or phone.
    let existing = concat!(
        "name,email,phone_number,identifier,company,city,status,plan,budget,labels\n",
        "Existing One,one@example.com,+60123450011,ex-1,Old Co,Ipoh,Qualified,gold,500,old\n",
        "Existing Two,two@example.com,+60123450022,,Two Co,Kuantan,New,,,\n",
        "Existing Three,,+60123450033,,,Miri,Negotiating,silver,,\n",
    );
    let path = db.write("existing.csv", existing);
    assert_eq!(
        db.import(&path, &[]).counts(),
        "created 3, updated 0, skipped 0, rejected 0"
    );
    let one = db.contact("ex-1");
    let two = db.contact("two@example.com");
    let three = db.contact("+60123450033");

    let updates = concat!(
        "name,email,phone_number,identifier,company,city,status,plan,budget,labels\n",
        "Existing One,one.new@example.com,,ex-1,,,,,,\"vip, Hot\"\n", // by identifier: new email, labels
        "Existing One,one.new@example.com,,,,Kuching,,,,\n",          // folds by email: city
        "Existing Two,TWO@example.com,+60123450099,ex-2,,,Won,silver,,\n", // by email
        "Existing Three,,0123450033,,,,,,,\n",                        // by phone: nothing new
        "Nobody Yet,new@example.com,,,,,,,,nosuch\n",                 // an unknown label
    );
    let path = db.write("updates.csv", updates);
    assert_eq!(
        db.import(&path, &["--dry-run"]).counts(),
        "created 0, updated 3, skipped 1, rejected 1"
    );
    assert_eq!(
        db.import(&path, &[]).counts(),
        "created 0, updated 3, skipped 1, rejected 1"
    );
    let rejected = db.rejected_lines();
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].0, 6);
    assert!(
        rejected[0].1.contains("label \"nosuch\" does not exist"),
        "{}",
        rejected[0].1
    );
    assert!(!db.has_contact("new@example.com"));

    let one_after = db.contact("ex-1");
    assert_eq!(one_after.id, one.id);
    assert_eq!(one_after.email.as_deref(), Some("one.new@example.com"));
    assert_eq!(
        one_after.phone.as_deref(),
        Some("+60123450011"),
        "blank cells never erase"
    );
    assert_eq!(one_after.company.as_deref(), Some("Old Co"));
    assert_eq!(one_after.city.as_deref(), Some("Kuching"));
    assert_eq!(one_after.status, 3);
    assert_eq!(one_after.value("plan"), Some("gold"));
    assert_eq!(one_after.number("budget"), Some(500.0));
    assert_eq!(one_after.labels, ["hot", "old", "vip"], "labels added to its own");
    assert_eq!(one_after.history, one.history, "the status did not change");

    let two_after = db.contact("two@example.com");
    assert_eq!(two_after.id, two.id);
    assert_eq!(two_after.phone.as_deref(), Some("+60123450099"));
    assert_eq!(two_after.identifier.as_deref(), Some("ex-2"));
    assert_eq!(
        (two_after.company.as_deref(), two_after.city.as_deref()),
        (Some("Two Co"), Some("Kuantan"))
    );
    assert_eq!(two_after.value("plan"), Some("silver"));
    assert_eq!(
        two_after.history,
        vec![(None, 1, "import".to_string()), (Some(1), 6, "import".to_string())]
    );
    assert_eq!(db.contact("+60123450033"), three, "unchanged: skipped");

    let before = db.snapshot();
    assert_eq!(
        db.import(&path, &[]).counts(),
        "created 0, updated 0, skipped 4, rejected 1"
    );
    assert_eq!(db.snapshot(), before, "the same file again changes nothing");
}

/// A hand-made contact: its form's fields, its owner and its labels.
type Made = (
    &'static [(&'static str, &'static str)],
    Option<i32>,
    &'static [&'static str],
);

/// Export, then import into a fresh database with the same team, labels
/// and attributes: every contact with a key comes back as it was; imported
/// into the same database, the export changes nothing.
#[test]
fn an_export_imports_again_unchanged() {
    let mut a = Db::new();
    let team = [
        ("lead@example.com", "Lee Lead", Role::Lead),
        ("agent1@example.com", "Agnes One", Role::Agent),
        ("agent2@example.com", "Agus Two", Role::Agent),
    ];
    for (email, name, role) in team {
        add_user(&mut a.conn, email, name, role);
    }
    let label_names = ["vip", "hot", "follow up"];
    for name in label_names {
        a.label(name);
    }
    let seeded = a.run(&["seed", "--contacts", "300", "--attributes"]);
    assert!(seeded.status.success(), "{}", seeded.stderr);
    let extra = [
        ("note", "text"),
        ("since", "date"),
        ("active", "boolean"),
        ("site", "link"),
    ];
    for (key, kind) in extra {
        a.define(key, kind, &[]);
    }
    let defs = attributes::definitions(&mut a.conn).unwrap();
    let lead_id = a.user_id("lead@example.com");
    let agent_id = a.user_id("agent2@example.com");
    let made: [Made; 6] = [
        (
            &[
                ("name", "=1+2"),
                ("email", "formula@example.com"),
                ("company", "@home"),
                ("city", "-Ipoh"),
                ("custom.note", "=cmd|' /C calc'!A0"),
                ("custom.budget", "-12.5"),
            ],
            Some(lead_id),
            &[],
        ),
        (
            &[
                ("name", r#"Tan, "Wei" Ming"#),
                ("phone", "+60123456780"),
                ("company", r#"Acme, "The Best""#),
                ("status", "Qualified"),
                ("custom.since", "2025-12-31"),
                ("custom.active", "true"),
                ("custom.site", "https://example.com/a?b=c,d"),
            ],
            Some(agent_id),
            &["vip"],
        ),
        (
            &[
                ("name", "+60123456789"),
                ("identifier", "ext-0001"),
                ("custom.note", "'quoted"),
                ("custom.active", "false"),
                ("custom.plan", "bronze"),
            ],
            None,
            &["hot", "follow up"],
        ),
        (
            &[
                ("name", "'=already"),
                ("identifier", "ext-0002"),
                ("email", "q@example.com"),
                ("city", "'=x"),
                ("country", "SG"),
                ("custom.budget", "800.5"),
            ],
            None,
            &["vip", "follow up"],
        ),
        (
            &[
                ("name", "Ünïcödé 名前 O'Brien"),
                ("email", "uni@example.com"),
                ("phone", "+6598765432"),
                ("status", "Won"),
                ("custom.plan", "silver"),
                ("custom.note", "semicolons; and \"quotes\", commas"),
            ],
            None,
            &[],
        ),
        (&[("name", "No Keys At All"), ("company", "Hidden")], None, &[]),
    ];
    for (fields, owner, labels) in made {
        let mut pairs: Vec<(String, String)> = fields.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        pairs.push(("owner".into(), owner.map(|o| o.to_string()).unwrap_or_default()));
        let input = ContactInput::from_pairs(pairs);
        let draft = ContactDraft::parse(&input, phonenumber::country::Id::MY, &defs)
            .unwrap_or_else(|e| panic!("{fields:?}: {e:?}"));
        let contact =
            contact_service::create(&mut a.conn, &a.admin, &draft, StatusSource::Manual).expect("contact created");
        let names: Vec<String> = labels.iter().map(|l| l.to_string()).collect();
        label_service::set_for_contact(&mut a.conn, contact.id, &names).expect("labels set");
    }
    let ids: Vec<i32> = contacts::table.select(contacts::id).load(&mut a.conn).unwrap();
    for id in ids.iter().filter(|id| **id <= 300) {
        let mut names = Vec::new();
        if id % 7 == 0 {
            names.push("vip".to_string());
        }
        if id % 5 == 0 {
            names.extend(["hot".to_string(), "follow up".to_string()]);
        }
        if !names.is_empty() {
            label_service::set_for_contact(&mut a.conn, *id, &names).unwrap();
        }
    }
    let before = a.snapshot();
    assert_eq!(before.len(), 306);
    let keyed = by_key(&before);
    let keyless = before.iter().filter(|s| s.key().is_none()).count();
    assert!(keyless >= 1, "the hand-made contact without keys");
    assert_eq!(keyed.len() + keyless, 306);
    assert!(
        before.iter().filter(|s| s.owner.is_some()).count() > 100,
        "owners seeded"
    );
    assert!(before.iter().filter(|s| !s.labels.is_empty()).count() > 50);
    assert!(before.iter().filter(|s| s.value("budget").is_some()).count() > 100);

    let export = a.run(&["export"]);
    assert!(export.status.success(), "{}", export.stderr);
    assert!(export.stderr.contains("exported 306 contact(s)"), "{}", export.stderr);
    let file = a.write("export.csv", &export.stdout);
    assert!(
        export.stdout.contains("'=1+2") && export.stdout.contains("''=already"),
        "formulas neutralised in the export"
    );

    // A fresh database with the same team, labels and attributes.
    let mut b = Db::new();
    for (email, name, role) in team {
        add_user(&mut b.conn, email, name, role);
    }
    for name in label_names {
        b.label(name);
    }
    b.define("plan", "list", &["gold", "silver", "bronze"]);
    b.define("budget", "number", &[]);
    for (key, kind) in extra {
        b.define(key, kind, &[]);
    }
    let out = b.path("rejected.csv");
    let run = b.import(&file, &["--rejected", out.to_str().unwrap()]);
    assert_eq!(
        run.counts(),
        format!("created {}, updated 0, skipped 0, rejected {keyless}", keyed.len())
    );
    let rejected = records(&std::fs::read(&out).unwrap());
    assert!(
        rejected[1..].iter().all(|r| r
            .last()
            .unwrap()
            .contains("needs an email, a phone number or an identifier")),
        "only the contacts without keys are rejected: {rejected:?}"
    );
    assert_same("the fresh database", &keyed, &by_key(&b.snapshot()));

    // The same file into the database it came from: nothing changes.
    let run = a.import(&file, &[]);
    assert_eq!(
        run.counts(),
        format!("created 0, updated 0, skipped {}, rejected {keyless}", keyed.len())
    );
    assert_eq!(a.snapshot(), before, "importing its own export changed nothing");
    // And again from the copy: the fresh database too stays as it is.
    let b_before = b.snapshot();
    let again = b.import(&file, &[]);
    assert_eq!(
        again.counts(),
        format!("created 0, updated 0, skipped {}, rejected {keyless}", keyed.len())
    );
    assert_eq!(b.snapshot(), b_before);
}

/// Issue 7, "done when" 3: an import killed while committing leaves what
/// it committed, with its counts; run again, it completes without
/// duplicates.
#[test]
fn an_import_killed_while_committing_completes_when_run_again() {
    const ROWS: i64 = 200_000;
    let mut db = Db::new();
    let row = |i: i64| format!("Person {i},person{i}@example.com,+6012{i:07},id-{i:07},Ipoh\n");
    for i in [0, 1, 12_345, ROWS / 2, ROWS - 1] {
        let cells: Vec<String> = row(i).trim_end().split(',').map(str::to_string).collect();
        let phone = Phone::parse(&cells[2], phonenumber::country::Id::MY).expect("a valid Malaysian mobile");
        assert_eq!(phone.into_inner(), cells[2]);
    }
    let mut text = String::with_capacity(ROWS as usize * 70);
    text.push_str("name,email,phone_number,identifier,city\n");
    for i in 0..ROWS {
        text.push_str(&row(i));
    }
    let path = db.write("big.csv", text);

    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_leadbook"))
        .args(["import", path.to_str().unwrap()])
        .env("DATABASE_URL", &db.url)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start leadbook import");
    let limit = Duration::from_secs(600);
    loop {
        let now: Option<(String, i64, i64)> = imports::table
            .select((imports::state, imports::created, imports::done_rows))
            .order(imports::id.desc())
            .first(&mut db.conn)
            .optional()
            .unwrap();
        if let Some((state, created, _)) = &now {
            if state == "committing" && *created > 0 {
                break;
            }
            assert!(
                state != "done" && state != "failed",
                "the import ended before it was killed: {now:?}"
            );
        }
        assert!(child.try_wait().unwrap().is_none(), "leadbook exited early: {now:?}");
        assert!(
            started.elapsed() < limit,
            "not committing after {:?}: {now:?}",
            started.elapsed()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let reached = started.elapsed();
    child.kill().expect("SIGKILL");
    child.wait().unwrap();

    let written = db.contact_count();
    let (state, created): (String, i64) = imports::table
        .select((imports::state, imports::created))
        .order(imports::id.desc())
        .first(&mut db.conn)
        .unwrap();
    assert_eq!(state, "committing", "cut off while committing");
    assert!(
        (1..ROWS).contains(&written),
        "{written} contacts written before the kill"
    );
    assert_eq!(created, written, "the progress was committed with the batches");
    let history: i64 = status_history::table.count().get_result(&mut db.conn).unwrap();
    assert_eq!(history, written, "each written contact with its history");
    let killed = db.last_import();
    let refused = import::begin_commit(&mut db.conn, &db.admin, killed).expect_err("not stalled yet");
    assert!(refused.to_string().contains("being committed already"), "{refused}");

    let again = Instant::now();
    let run = db.import(&path, &[]);
    assert_eq!(
        run.counts(),
        format!("created {}, updated 0, skipped {written}, rejected 0", ROWS - written)
    );
    eprintln!(
        "committing after {reached:?}, {written} contacts written when killed; the second run took {:?}",
        again.elapsed()
    );
    let c = &mut db.conn;
    let total: i64 = contacts::table.count().get_result(c).unwrap();
    assert_eq!(total, ROWS);
    let distinct = |c: &mut AnyConnection| -> [i64; 3] {
        [
            contacts::table
                .select(diesel::dsl::count(contacts::identifier).aggregate_distinct())
                .get_result(c)
                .unwrap(),
            contacts::table
                .select(diesel::dsl::count(contacts::email).aggregate_distinct())
                .get_result(c)
                .unwrap(),
            contacts::table
                .select(diesel::dsl::count(contacts::phone).aggregate_distinct())
                .get_result(c)
                .unwrap(),
        ]
    };
    assert_eq!(distinct(c), [ROWS; 3], "each identifier, email and phone exactly once");
    let history: i64 = status_history::table.count().get_result(c).unwrap();
    let with_history: i64 = status_history::table
        .select(diesel::dsl::count(status_history::contact_id).aggregate_distinct())
        .get_result(c)
        .unwrap();
    assert_eq!((history, with_history), (ROWS, ROWS), "one history entry per contact");
    let sample = contacts::table
        .filter(contacts::identifier.eq("id-0123456"))
        .select(Contact::as_select())
        .first(c)
        .unwrap();
    assert_eq!(sample.name, "Person 123456");
    assert_eq!(sample.email.as_deref(), Some("person123456@example.com"));
    assert_eq!(sample.city.as_deref(), Some("Ipoh"));

    // The killed import itself resumes once it counts as stalled: from its
    // last committed batch, with its counts, finding the rest written.
    let long_ago = chrono::Utc::now().naive_utc() - chrono::Duration::seconds(import::STALL_SECONDS + 60);
    diesel::update(imports::table.find(killed))
        .set(imports::updated_at.eq(long_ago))
        .execute(c)
        .unwrap();
    let resumed = Instant::now();
    import::begin_commit(c, &db.admin, killed).expect("a stalled commit is taken over");
    let done = import::commit(c, &db.admin, killed, phonenumber::country::Id::MY, |_, _| {}).expect("resumed");
    eprintln!("the killed import resumed in {:?}", resumed.elapsed());
    assert_eq!(done.state, import::ImportState::Done);
    assert_eq!(
        done.counts,
        import::Counts {
            created: written,
            updated: 0,
            skipped: ROWS - written,
            rejected: 0
        }
    );
    assert_eq!(contacts::table.count().get_result::<i64>(c).unwrap(), ROWS);
    assert_eq!(status_history::table.count().get_result::<i64>(c).unwrap(), ROWS);
}

/// Runs the service's check on `file` for the admin, returning the import.
fn checked(db: &mut Db, file: &[u8]) -> import::Import {
    let options = import::ImportOptions::default();
    let id = import::start(&mut db.conn, &db.admin, &options).expect("started");
    import::check(
        &mut db.conn,
        id,
        file,
        &options,
        phonenumber::country::Id::MY,
        |_, _, _| {},
    )
    .expect("checked")
}

fn committed(db: &mut Db, id: i32) -> import::Import {
    import::begin_commit(&mut db.conn, &db.admin, id).expect("begun");
    import::commit(&mut db.conn, &db.admin, id, phonenumber::country::Id::MY, |_, _| {}).expect("committed")
}

#[test]
fn a_commit_of_only_unreadable_rows_keeps_its_counts() {
    let mut db = Db::new();
    // A trailing delimiter: three cells under a two-column header.
    let import = checked(&mut db, b"name,email\nAli,ali@example.com,\n");
    assert_eq!(
        import.planned.to_string(),
        "created 0, updated 0, skipped 0, rejected 1"
    );
    let done = committed(&mut db, import.id);
    assert_eq!(done.counts.to_string(), "created 0, updated 0, skipped 0, rejected 1");
}

#[test]
fn an_import_is_committed_once() {
    let mut db = Db::new();
    let import = checked(&mut db, b"name,email\nAli,ali@example.com\n");
    import::begin_commit(&mut db.conn, &db.admin, import.id).expect("the first commit begins");
    let again = import::begin_commit(&mut db.conn, &db.admin, import.id);
    assert!(
        matches!(again, Err(leadbook::error::AppError::Conflict(_))),
        "a second commit of the same import is refused: {again:?}"
    );
    let done = import::commit(
        &mut db.conn,
        &db.admin,
        import.id,
        phonenumber::country::Id::MY,
        |_, _| {},
    )
    .expect("committed");
    assert_eq!(done.counts.to_string(), "created 1, updated 0, skipped 0, rejected 0");
}

#[test]
fn hostile_rows_are_rejected_alone() {
    let mut db = Db::new();
    let mut file = String::from("name,email,identifier,status\n");
    // Past the first 8 KB, where the binary sniff looks: a NUL in a status
    // cell (quoted in its message; PostgreSQL refuses NUL in text).
    for i in 0..300 {
        file.push_str(&format!("Person {i},p{i}@example.com,,New\n"));
    }
    file.push_str("Ali,ali@example.com,,Won\0\n");
    // A placeholder email does not make one person of unrelated rows.
    file.push_str("Bob,n/a,id-b,New\nCik,n/a,id-c,New\n");
    // At most 1,000 rows fold into one person.
    for _ in 0..1_001 {
        file.push_str("Dan,dan@example.com,,New\n");
    }
    let import = checked(&mut db, file.as_bytes());
    let rejected = import::rejected(&mut db.conn, &db.admin, import.id, 10).expect("rejected rows");
    let reasons: Vec<(i64, String)> = rejected.iter().map(|r| (r.line, r.error.clone())).collect();
    assert_eq!(reasons.len(), 4, "{reasons:?}");
    assert!(
        reasons[0].1.contains("status") && reasons[0].1.contains('\u{FFFD}'),
        "{reasons:?}"
    );
    assert!(reasons[1].1.contains("email is not a valid address"), "{reasons:?}");
    assert!(reasons[2].1.contains("email is not a valid address"), "{reasons:?}");
    assert!(reasons[3].1.contains("at most 1000 rows"), "{reasons:?}");
    assert_eq!(
        import.planned.to_string(),
        "created 301, updated 0, skipped 999, rejected 4"
    );
}
