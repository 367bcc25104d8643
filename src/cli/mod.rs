//! The command line: `serve` (default), `migrate`, `user add`, `token new`, `seed`,
//! `duplicates rebuild|recall`, `import`, `export`.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::Settings;
use crate::db;
use crate::service::{duplicates, import, seed, tokens, users};

#[derive(Parser)]
#[command(name = "leadbook", version, about = "The contacts CRM for teams that sell over chat")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the web app (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Add realistic fake contacts, for demos and benchmarks.
    Seed {
        /// How many contacts to add.
        #[arg(long)]
        contacts: u64,
        /// Also define `plan` (list: gold, silver, bronze; 10% gold) and
        /// `budget` (number), and fill them.
        #[arg(long)]
        attributes: bool,
        /// Then plant PERCENT% more contacts that duplicate seeded ones, of
        /// the kinds the duplicate finder looks for, recorded so its recall
        /// can be measured (`duplicates recall`).
        #[arg(long, value_name = "PERCENT", value_parser = percent)]
        duplicates: Option<f64>,
    },
    /// The lead score.
    Score {
        #[command(subcommand)]
        command: ScoreCommand,
    },
    /// The duplicate finder.
    Duplicates {
        #[command(subcommand)]
        command: DuplicatesCommand,
    },
    /// Import contacts from a CSV file (docs/decisions.md, "Import"): checks the whole
    /// file, then writes it; prints `created N, updated N, skipped N,
    /// rejected N` as the last line.
    Import {
        file: std::path::PathBuf,
        /// Check the file and print what would happen; write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Write the rejected rows, with an `error` column, to this file.
        #[arg(long, value_name = "OUT.csv")]
        rejected: Option<std::path::PathBuf>,
        /// The e-mail of the lead or admin the import is recorded for
        /// (may be left out when there is exactly one admin).
        #[arg(long = "as", value_name = "EMAIL")]
        as_user: Option<String>,
        /// A column to ignore; repeat for several.
        #[arg(long, value_name = "COLUMN")]
        ignore: Vec<String>,
        /// Ignore every column that is neither standard nor a custom attribute.
        #[arg(long)]
        ignore_unknown: bool,
        /// Leave the new contacts in the duplicate finder's backlog instead
        /// of keying them before exiting: a running server keys them in the
        /// background, or `leadbook duplicates catch-up` does.
        #[arg(long)]
        defer_duplicates: bool,
    },
    /// Write contacts as CSV (the import layout plus information columns)
    /// to standard output: everyone's, or those with the given statuses and
    /// labels.
    Export {
        /// A status (ID, name or alias); repeat for several.
        #[arg(long)]
        status: Vec<String>,
        /// A label every exported contact carries; repeat for several.
        #[arg(long)]
        label: Vec<String>,
    },
}

#[derive(Subcommand)]
enum ScoreCommand {
    /// Train the lead score now and write every contact's score; prints
    /// what it learnt from, its held-out AUC and the time taken.
    Train,
    /// Add a generated history where Won depends on known features plus
    /// noise, for measuring the score (`bench/score`).
    Generate {
        /// Closed (Won or Lost) contacts to add.
        #[arg(long)]
        closed: u64,
        /// Open contacts to add.
        #[arg(long, default_value_t = 0)]
        open: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

#[derive(Subcommand)]
enum DuplicatesCommand {
    /// Recompute every contact's match keys and the likely duplicate pairs.
    Rebuild,
    /// Key the contacts waiting in the finder's backlog (an import's new
    /// contacts) and find their pairs.
    CatchUp,
    /// How many of the duplicates `seed --duplicates` planted are among the
    /// finder's strongest N pairs.
    Recall {
        #[arg(long, default_value_t = 20_000)]
        top: i64,
    },
}

/// A percentage between 0 and 100.
fn percent(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(p) if (0.0..=100.0).contains(&p) => Ok(p),
        _ => Err(format!("`{text}` is not a percentage between 0 and 100")),
    }
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Print a new API token for a user (shown once; only its hash is kept).
    New {
        #[arg(long)]
        user: String,
        #[arg(long, default_value = "command line")]
        name: String,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add a user; the password comes from LEADBOOK_PASSWORD or a prompt.
    Add {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        #[arg(long, value_parser = ["agent", "lead", "admin"])]
        role: String,
    },
}

/// Parses the command line and runs it; errors are printed as one sentence.
pub fn main() -> ExitCode {
    let _ = dotenvy::dotenv();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("leadbook: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn connect(settings: &Settings) -> anyhow::Result<db::AnyConnection> {
    let mut conn =
        db::establish(&settings.database_url).map_err(|e| anyhow::anyhow!("cannot connect to the database: {e}"))?;
    db::migrate(&mut conn).map_err(anyhow::Error::msg)?;
    Ok(conn)
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = Settings::from_env().map_err(anyhow::Error::msg)?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(settings),
        Command::Migrate => {
            let mut conn = db::establish(&settings.database_url)
                .map_err(|e| anyhow::anyhow!("cannot connect to the database: {e}"))?;
            let applied = db::migrate(&mut conn).map_err(anyhow::Error::msg)?;
            println!("applied {applied} migration(s)");
            Ok(())
        }
        Command::User {
            command: UserCommand::Add { email, name, role },
        } => {
            let role = users::Role::parse(&role).map_err(anyhow::Error::msg)?;
            let password = match std::env::var("LEADBOOK_PASSWORD") {
                Ok(p) if !p.is_empty() => p,
                _ => rpassword::prompt_password(format!("Password for {email}: "))?,
            };
            let mut conn = connect(&settings)?;
            let new = users::NewUser {
                name: &name,
                email: &email,
                password: &password,
                role,
            };
            let user = users::add_user(&mut conn, &new).map_err(describe)?;
            println!("added {} <{}> as {}", user.name, user.email, user.role.as_str());
            Ok(())
        }
        Command::Token {
            command: TokenCommand::New { user, name },
        } => {
            let mut conn = connect(&settings)?;
            let owner = users::find_by_email(&mut conn, &user).map_err(describe)?;
            // The operator at the console acts with the token owner's own rights.
            let (_, secret) = tokens::create(&mut conn, &owner, owner.id, &name).map_err(describe)?;
            println!("{secret}");
            Ok(())
        }
        Command::Score { command } => {
            let mut conn = connect(&settings)?;
            match command {
                ScoreCommand::Train => {
                    let t = crate::service::lead_score::train(
                        &mut conn,
                        settings.score_outcomes,
                        chrono::Utc::now().naive_utc(),
                    )
                    .map_err(describe)?;
                    println!("{}", t.message);
                    println!(
                        "closed {}, won {}, auc {}, scores written {}, {:.2}s",
                        t.closed,
                        t.won,
                        t.auc.map_or_else(|| "null".into(), |a| format!("{a:.4}")),
                        t.written,
                        t.seconds
                    );
                }
                ScoreCommand::Generate { closed, open, seed } => {
                    let started = std::time::Instant::now();
                    let g = crate::service::lead_score::synthetic::generate(&mut conn, closed, open, seed)
                        .map_err(describe)?;
                    println!(
                        "generated {} contacts ({} closed, {} won); generator auc {} on the held-out fifth; {:.1}s",
                        g.contacts,
                        g.closed,
                        g.won,
                        g.generator_auc.map_or_else(|| "null".into(), |a| format!("{a:.4}")),
                        started.elapsed().as_secs_f64()
                    );
                }
            }
            Ok(())
        }
        Command::Seed {
            contacts,
            attributes,
            duplicates: percent,
        } => {
            let mut conn = connect(&settings)?;
            let started = std::time::Instant::now();
            let tty = std::io::stderr().is_terminal();
            let attributes = if attributes {
                Some(seed::seed_attributes(&mut conn).map_err(describe)?)
            } else {
                None
            };
            let written = seed::seed_contacts(&mut conn, contacts, attributes.as_ref(), |n| {
                if tty && (n % 10_000 == 0 || n == contacts) {
                    eprint!("\rseeded {n}/{contacts}");
                }
            })
            .map_err(describe)?;
            if tty {
                eprintln!();
            }
            println!("seeded {written} contacts in {:.1}s", started.elapsed().as_secs_f64());
            if let Some(percent) = percent {
                let started = std::time::Instant::now();
                let planted = seed::plant_duplicates(&mut conn, percent, written).map_err(describe)?;
                println!(
                    "planted {planted} duplicates in {:.1}s",
                    started.elapsed().as_secs_f64()
                );
            }
            // The seed wrote behind the finder's back: bring it up to date.
            rebuild(&mut conn, tty)
        }
        Command::Import {
            file,
            dry_run,
            rejected,
            as_user,
            ignore,
            ignore_unknown,
            defer_duplicates,
        } => {
            let mut conn = connect(&settings)?;
            let options = import::ImportOptions {
                file_name: file
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                ignore,
                ignore_unknown,
                skip_dry_run: !dry_run,
            };
            let opened =
                std::fs::File::open(&file).map_err(|e| anyhow::anyhow!("cannot open {}: {e}", file.display()))?;
            import_file(&mut conn, &settings, opened, &options, as_user, dry_run, rejected)?;
            if !dry_run && !defer_duplicates {
                catch_up(&mut conn)?;
            }
            Ok(())
        }
        Command::Export { status, label } => {
            let mut conn = connect(&settings)?;
            let pairs: Vec<(&str, &str)> = status
                .iter()
                .map(|s| ("status", s.as_str()))
                .chain(label.iter().map(|l| ("label", l.as_str())))
                .collect();
            let query = crate::service::listing::ContactQuery::parse(pairs).map_err(anyhow::Error::msg)?;
            let out = std::io::BufWriter::new(std::io::stdout().lock());
            let written =
                crate::service::export::write_csv(&mut conn, None, &query, settings.calling_code, out, |_| {})
                    .map_err(describe)?;
            eprintln!("exported {written} contact(s)");
            Ok(())
        }
        Command::Duplicates { command } => {
            let mut conn = connect(&settings)?;
            match command {
                DuplicatesCommand::Rebuild => rebuild(&mut conn, std::io::stderr().is_terminal()),
                DuplicatesCommand::CatchUp => catch_up(&mut conn),
                DuplicatesCommand::Recall { top } => {
                    let recall = duplicates::recall(&mut conn, top).map_err(describe)?;
                    if recall.planted == 0 {
                        anyhow::bail!("no planted duplicates: seed with --duplicates PERCENT first");
                    }
                    let share = |found: u64, of: u64| 100.0 * found as f64 / of.max(1) as f64;
                    for (kind, planted, found) in &recall.by_kind {
                        println!("{kind}: {found} of {planted} ({:.1}%)", share(*found, *planted));
                    }
                    println!(
                        "recall: {} of {} planted duplicates are in the top {top} pairs ({:.1}%)",
                        recall.found,
                        recall.planted,
                        share(recall.found, recall.planted)
                    );
                    Ok(())
                }
            }
        }
    }
}

/// The user an import from the command line is recorded for: the one named,
/// or the only admin.
fn import_actor(conn: &mut db::AnyConnection, as_user: Option<String>) -> anyhow::Result<users::Actor> {
    if let Some(email) = as_user {
        return users::find_by_email(conn, &email).map_err(describe);
    }
    let admins: Vec<users::UserSummary> = users::team(conn)
        .map_err(describe)?
        .into_iter()
        .filter(|u| u.role == users::Role::Admin.as_str())
        .collect();
    match admins.as_slice() {
        [only] => users::active_user(conn, only.id)
            .map_err(describe)?
            .ok_or_else(|| anyhow::anyhow!("the admin is not available")),
        [] => anyhow::bail!("there is no admin to record the import for: add one, or name a lead with --as EMAIL"),
        _ => anyhow::bail!("there are several admins: name the one the import is for with --as EMAIL"),
    }
}

fn bar(len: u64, template: &str) -> indicatif::ProgressBar {
    // Drawn on standard error, and only when it is a terminal.
    let bar = indicatif::ProgressBar::with_draw_target(Some(len), indicatif::ProgressDrawTarget::stderr());
    if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar
}

/// Checks and (unless `dry_run`) commits a file, with progress bars on a
/// terminal; prints the counts as the last line of standard output.
fn import_file(
    conn: &mut db::AnyConnection,
    settings: &Settings,
    file: std::fs::File,
    options: &import::ImportOptions,
    as_user: Option<String>,
    dry_run: bool,
    rejected: Option<std::path::PathBuf>,
) -> anyhow::Result<()> {
    let actor = import_actor(conn, as_user)?;
    let started = std::time::Instant::now();
    let id = import::start(conn, &actor, options).map_err(describe)?;
    let reading = bar(0, "{spinner} {msg} {pos} rows ({per_sec})");
    let checking = std::cell::OnceCell::new();
    let checked = import::check(conn, id, file, options, settings.default_country, |step, n, total| {
        if step == "reading" {
            reading.set_message("reading");
            reading.set_position(n as u64);
        } else {
            reading.finish_and_clear();
            let b = checking.get_or_init(|| bar(total as u64, "checking {wide_bar} {pos}/{len} rows ({eta})"));
            b.set_position(n as u64);
        }
    });
    reading.finish_and_clear();
    if let Some(b) = checking.get() {
        b.finish_and_clear();
    }
    let checked = checked.map_err(describe)?;
    let outcome = if dry_run {
        checked.planned
    } else {
        import::begin_commit(conn, &actor, id).map_err(describe)?;
        let writing = bar(
            checked.total_rows as u64,
            "importing {wide_bar} {pos}/{len} rows ({eta})",
        );
        let done = import::commit(conn, &actor, id, settings.default_country, |n, _| {
            writing.set_position(n as u64)
        });
        writing.finish_and_clear();
        let counts = done.map_err(describe)?.counts;
        report_import(checked.total_rows, false, started);
        counts
    };
    if dry_run {
        report_import(checked.total_rows, true, started);
    }
    if let Some(path) = rejected {
        let out = std::fs::File::create(&path).map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
        let n = import::write_rejected_csv(conn, &actor, id, std::io::BufWriter::new(out)).map_err(describe)?;
        eprintln!("wrote {n} rejected row(s) to {}", path.display());
    }
    println!("{outcome}");
    Ok(())
}

/// The import's own time: reading, checking and (unless a dry run) writing.
fn report_import(rows: i64, dry_run: bool, started: std::time::Instant) {
    let seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "{} {rows} rows in {seconds:.1}s ({:.0} rows/s)",
        if dry_run { "checked" } else { "imported" },
        rows as f64 / seconds.max(1e-9)
    );
}

/// Keys the contacts in the duplicate finder's backlog, with a progress bar on a terminal.
fn catch_up(conn: &mut db::AnyConnection) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let waiting = duplicates::backlog(conn).map_err(describe)?;
    let finder = bar(
        waiting as u64,
        "duplicate finder {wide_bar} {pos}/{len} contacts ({eta})",
    );
    let keyed = duplicates::catch_up(conn, |n| finder.set_position(n)).map_err(describe)?;
    finder.finish_and_clear();
    eprintln!(
        "duplicate finder: keyed {keyed} new contact(s) in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Rebuilds the duplicate finder's keys and pairs, showing progress on a terminal.
fn rebuild(conn: &mut db::AnyConnection, tty: bool) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let stats = duplicates::rebuild(conn, |n| {
        if tty && n % 100_000 == 0 {
            eprint!("\rduplicate finder: keyed {n} contacts");
        }
    })
    .map_err(describe)?;
    if tty {
        eprintln!();
    }
    println!(
        "duplicate finder: {} pairs among {} contacts ({} keys, {} comparisons, {} keys too common to compare) in {:.1}s",
        stats.pairs,
        stats.contacts,
        stats.keys,
        stats.comparisons,
        stats.skipped_blocks,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// A service error as one readable sentence, with field messages spelled out.
fn describe(e: crate::error::AppError) -> anyhow::Error {
    match e {
        crate::error::AppError::Validation { fields, .. } => {
            let parts: Vec<String> = fields
                .iter()
                .flat_map(|(field, msgs)| msgs.iter().map(move |m| format!("{field} {m}")))
                .collect();
            anyhow::anyhow!("{}", parts.join("; "))
        }
        crate::error::AppError::Internal(cause) => anyhow::anyhow!("{cause}"),
        other => anyhow::anyhow!("{other}"),
    }
}

fn serve(settings: Settings) -> anyhow::Result<()> {
    let bind = settings.bind.clone();
    crate::db::wait_until_reachable(&settings.database_url, settings.db_connect_attempts)
        .map_err(anyhow::Error::msg)?;
    actix_web::rt::System::new().block_on(async move {
        let app = crate::Application::build(settings)?;
        tracing::info!("leadbook listening on http://{bind}");
        app.server.await?;
        Ok(())
    })
}
