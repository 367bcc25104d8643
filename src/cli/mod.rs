//! The command line: `serve` (default), `migrate`, `user add`, `token new`, `seed`,
//! `duplicates rebuild|recall`.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::Settings;
use crate::db;
use crate::service::{duplicates, seed, tokens, users};

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
    /// The duplicate finder.
    Duplicates {
        #[command(subcommand)]
        command: DuplicatesCommand,
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
enum DuplicatesCommand {
    /// Recompute every contact's match keys and the likely duplicate pairs.
    Rebuild,
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
    actix_web::rt::System::new().block_on(async move {
        let app = crate::Application::build(settings)?;
        tracing::info!("leadbook listening on http://{bind}");
        app.server.await?;
        Ok(())
    })
}
