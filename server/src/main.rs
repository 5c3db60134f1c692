//! `auditrail`: the audit log server and its administration commands, in one binary.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use auditrail_access::admin::Changer;
use auditrail_access::audit::{self, Entry, Kind};
use auditrail_access::password;
use auditrail_access::reading::Reader;
use auditrail_model::Scope;
use auditrail_model::{Filter, PageRequest, Projects, ReadScope};
use auditrail_server::client_addr::{self, ProxyHeader, TrustedProxies};
use auditrail_server::export::jobs::JobSettings;
use auditrail_server::security::IngestLimit;
use auditrail_server::{bench, copy, debug_log, delivery, demo, export, first_admin, import, web};
use auditrail_storage::Store;
use clap::{Args, Parser, Subcommand};
use futures::StreamExt;
use rand::SeedableRng;

const DEFAULT_DATABASE: &str = "sqlite://data/auditrail.db";

#[derive(Parser)]
#[command(name = "auditrail", version, about = "Self-hosted audit log service")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct DatabaseArg {
    /// Database URL: sqlite://PATH
    #[arg(long, env = "AUDITRAIL_DATABASE_URL", default_value = DEFAULT_DATABASE)]
    database: String,
}

impl DatabaseArg {
    async fn open(&self) -> anyhow::Result<Store> {
        Store::open(&self.database).await.with_context(|| "opening the database")
    }
}

#[derive(Subcommand)]
enum Command {
    /// Serve the web app and the HTTP API
    Serve {
        /// Address to listen on
        #[arg(long, env = "AUDITRAIL_ADDR", default_value = "127.0.0.1:3000")]
        addr: SocketAddr,
        #[command(flatten)]
        db: DatabaseArg,
        /// Folder holding the built web assets (scripts/build.sh writes them to target/site)
        #[arg(long, env = "AUDITRAIL_SITE_ROOT", default_value = "target/site")]
        site_root: PathBuf,
        /// Email of the admin created (with a printed random password) when there are no users
        #[arg(long, env = "AUDITRAIL_ADMIN_EMAIL", default_value = "admin@localhost")]
        admin_email: String,
        /// A reverse proxy (address or network, e.g. 10.0.0.0/8) whose X-Forwarded-For names
        /// the client; repeat for several. Without one, the connecting address is the client's
        #[arg(
            long = "trusted-proxy",
            env = "AUDITRAIL_TRUSTED_PROXIES",
            value_delimiter = ',',
            value_parser = client_addr::parse_proxy
        )]
        trusted_proxies: Vec<ipnet::IpNet>,
        /// The header the trusted proxies write the client's address (and scheme) in; the
        /// other is ignored, as the client may have sent it
        #[arg(long, env = "AUDITRAIL_PROXY_HEADER", value_enum, default_value_t = ProxyHeader::XForwardedFor)]
        proxy_header: ProxyHeader,
        /// Ingest requests one API key (or, without a key, one client network) may make per
        /// second once its burst is used up; more get 429 with Retry-After
        #[arg(long, env = "AUDITRAIL_INGEST_RATE", default_value_t = 200,
              value_parser = clap::value_parser!(u32).range(1..))]
        ingest_rate: u32,
        /// Ingest requests one API key may make at once before the rate applies
        #[arg(long, env = "AUDITRAIL_INGEST_BURST", default_value_t = 1000,
              value_parser = clap::value_parser!(u32).range(1..))]
        ingest_burst: u32,
        /// Folder for export job files; every server sharing a database must see the same one
        #[arg(long, env = "AUDITRAIL_EXPORT_DIR", default_value = "data/exports")]
        export_dir: PathBuf,
        /// Hours a finished export stays downloadable before its file is swept
        #[arg(long, env = "AUDITRAIL_EXPORT_RETENTION_HOURS", default_value_t = 168,
              value_parser = clap::value_parser!(u32).range(1..))]
        export_retention_hours: u32,
        /// Seconds a server holds an export job without renewing it; after a crash the job
        /// runs again (here after a restart, or on another server) once this has passed
        #[arg(long, env = "AUDITRAIL_EXPORT_LEASE_SECONDS", default_value_t = 30,
              value_parser = clap::value_parser!(u32).range(1..))]
        export_lease_seconds: u32,
        /// Folder for the server's own debug log (hourly JSON Lines files), which admins can
        /// download archives of
        #[arg(long, env = "AUDITRAIL_LOG_DIR", default_value = "data/logs")]
        log_dir: PathBuf,
        /// Megabytes the debug log folder may hold; the oldest hours are removed beyond it
        #[arg(long, env = "AUDITRAIL_LOG_MAX_MB", default_value_t = 100,
              value_parser = clap::value_parser!(u64).range(1..))]
        log_max_mb: u64,
    },
    /// Manage the people who sign in to the web app
    #[command(subcommand)]
    Users(UsersCommand),
    /// Manage API keys
    #[command(subcommand)]
    ApiKeys(ApiKeysCommand),
    /// Write realistic demo events spread over the last 30 days
    Demo {
        /// How many events to write
        #[arg(long, default_value_t = 5000)]
        events: usize,
        /// Write nothing when the database already holds events
        #[arg(long)]
        if_empty: bool,
        #[command(flatten)]
        db: DatabaseArg,
    },
    /// Create or upgrade the database schema (serve does this on start too)
    Migrate {
        #[command(flatten)]
        db: DatabaseArg,
    },
    /// Copy every event from one database to another (SQLite ⇄ Postgres); safe to run again
    Copy {
        /// Database to read: sqlite://PATH or postgres://…
        #[arg(long)]
        from: String,
        /// Database to write (created and migrated if needed)
        #[arg(long)]
        to: String,
        /// Events per transaction
        #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=1000))]
        batch: u32,
    },
    /// Import audit logs exported from another system; importing the same records again
    /// stores nothing new
    Import {
        /// The source system's log format
        #[arg(long, value_enum)]
        format: import::Format,
        /// The project to import into; by default the format's (aws, okta, github,
        /// google-workspace, azure, gcp)
        #[arg(long)]
        project: Option<String>,
        /// Files of JSON Lines, JSON documents or CloudTrail `{"Records": […]}`; gzip is read too
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[command(flatten)]
        db: DatabaseArg,
    },
    /// Export events matching a filter to standard output
    Export {
        /// csv, jsonl or xlsx (binary: redirect it to a file)
        #[arg(long, default_value = "csv")]
        format: String,
        /// Filters in query-string form, as in the API and page URL: 'range=7d&project=shop'
        #[arg(long, default_value = "")]
        filter: String,
        #[command(flatten)]
        db: DatabaseArg,
    },
    /// Daily deliveries of each day's events to object storage
    #[command(subcommand)]
    Deliveries(DeliveriesCommand),
    /// Measure ingest throughput and query latency on a scratch database
    Bench {
        /// Events to generate and ingest
        #[arg(long, default_value_t = 100_000)]
        events: usize,
        /// Benchmark this database instead of a scratch SQLite file
        #[arg(long)]
        database: Option<String>,
        /// Samples per query
        #[arg(long, default_value_t = 200)]
        samples: usize,
        /// Events per ingest batch
        #[arg(long, default_value_t = 1000)]
        batch: usize,
        /// Concurrent ingest clients, one phase each (the events are split between phases)
        #[arg(long, value_delimiter = ',', default_value = "1,4")]
        clients: Vec<usize>,
        /// Servers the clients are spread over (stores on the same database, each with its own
        /// connections and ingest writer), each count with every client count at least as large
        #[arg(long, value_delimiter = ',', default_value = "1")]
        servers: Vec<usize>,
    },
}

#[derive(Args)]
struct PasswordArg {
    /// Read the password from standard input instead of generating one
    #[arg(long)]
    password_stdin: bool,
}

impl PasswordArg {
    /// The password to set, and whether it was generated (and so must be printed).
    fn password(&self) -> anyhow::Result<(String, bool)> {
        if !self.password_stdin {
            return Ok((password::generate(), true));
        }
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        Ok((line.trim_end_matches(['\r', '\n']).to_owned(), false))
    }
}

#[derive(Subcommand)]
enum UsersCommand {
    /// Create a user; a generated password is printed once, alone on the last line
    Create {
        #[arg(long)]
        email: String,
        /// admin, auditor, viewer, or a custom role
        #[arg(long)]
        role: String,
        /// Limit the user to this project (repeat for several); all projects by default
        #[arg(long = "project")]
        projects: Vec<String>,
        #[command(flatten)]
        password: PasswordArg,
        #[command(flatten)]
        db: DatabaseArg,
    },
    /// List users
    List {
        #[command(flatten)]
        db: DatabaseArg,
    },
    /// Set a new password (ending the user's sessions and lifting a sign-in lock)
    ResetPassword {
        #[arg(long)]
        email: String,
        #[command(flatten)]
        password: PasswordArg,
        #[command(flatten)]
        db: DatabaseArg,
    },
}

#[derive(Subcommand)]
enum DeliveriesCommand {
    /// Deliver each day's events after the day ends in --tz, starting with today's
    Add {
        /// 1-64 of a-z, 0-9, - and _; objects go under <destination>/<name>/
        #[arg(long)]
        name: String,
        /// file:///dir, s3://bucket/prefix, gs://bucket/prefix or az://container/prefix;
        /// credentials come from the usual environment variables (AWS_*, GOOGLE_*, AZURE_*)
        #[arg(long)]
        to: String,
        /// csv, jsonl or xlsx (csv and jsonl are gzip-compressed)
        #[arg(long, default_value = "jsonl")]
        format: String,
        /// The time zone whose midnight ends a day
        #[arg(long, default_value = "UTC")]
        tz: String,
        /// Filters in query-string form, without a time range: 'project=shop&result=failure'
        #[arg(long, default_value = "")]
        query: String,
        /// When, after midnight in --tz, the previous day is delivered
        #[arg(long, default_value = "00:30")]
        at: String,
        #[command(flatten)]
        db: DatabaseArg,
    },
    /// List deliveries with their latest day
    List {
        #[command(flatten)]
        db: DatabaseArg,
    },
    /// Stop a delivery (objects already delivered stay)
    Remove {
        name: String,
        #[command(flatten)]
        db: DatabaseArg,
    },
    /// Deliver one day now, replacing what was delivered for it before
    Run {
        name: String,
        /// The day, in the delivery's time zone
        #[arg(long)]
        date: chrono::NaiveDate,
        #[command(flatten)]
        db: DatabaseArg,
    },
}

#[derive(Subcommand)]
enum ApiKeysCommand {
    /// Create a key; its secret is printed once, alone on the last line
    Create {
        #[arg(long)]
        name: String,
        /// What the key may do: any of ingest, read, export, messages (comma-separated); all by default
        #[arg(long, default_value = "ingest,read,export,messages")]
        scopes: String,
        /// Limit the key to this project (repeat for several); all projects by default
        #[arg(long = "project")]
        projects: Vec<String>,
        #[command(flatten)]
        db: DatabaseArg,
    },
    /// List keys (never their secrets)
    List {
        #[command(flatten)]
        db: DatabaseArg,
    },
    /// Revoke a key by id; it stops working at once
    Revoke {
        id: String,
        #[command(flatten)]
        db: DatabaseArg,
    },
}

/// Logs to stderr and, for the server, to its debug log as JSON Lines; `AUDITRAIL_LOG` sets
/// what is logged (default `info,sqlx=warn`).
fn start_tracing(
    log: Option<&debug_log::LogSettings>,
) -> anyhow::Result<Option<tracing_appender::non_blocking::WorkerGuard>> {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = tracing_subscriber::EnvFilter::try_from_env("AUDITRAIL_LOG")
        .unwrap_or_else(|_| "info,sqlx=warn".into());
    let stderr = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let (file, guard) = match log {
        Some(settings) => {
            let (writer, guard) = debug_log::writer(settings).with_context(|| {
                format!("cannot write the debug log in {}", settings.dir.display())
            })?;
            let layer = tracing_subscriber::fmt::layer().json().with_writer(writer);
            (Some(layer), Some(guard))
        }
        None => (None, None),
    };
    tracing_subscriber::registry().with(filter).with(stderr).with(file).init();
    Ok(guard)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let log = match &cli.command {
        Command::Serve { log_dir, log_max_mb, .. } => Some(debug_log::LogSettings {
            dir: log_dir.clone(),
            max_bytes: log_max_mb.saturating_mul(1024 * 1024),
        }),
        _ => None,
    };
    // Kept until exit: dropping it writes the last lines of the debug log.
    let _log_guard = start_tracing(log.as_ref())?;
    match cli.command {
        Command::Serve {
            addr,
            db,
            site_root,
            admin_email,
            trusted_proxies,
            proxy_header,
            ingest_rate,
            ingest_burst,
            export_dir,
            export_retention_hours,
            export_lease_seconds,
            log_dir,
            ..
        } => {
            let store = db.open().await?;
            if let Some(password) = first_admin::ensure(&store, &admin_email).await? {
                println!("No users yet, so an admin was created. Sign in with:");
                println!("  email:    {admin_email}");
                println!("  password: {password}");
                println!("(shown only now; `auditrail users reset-password` sets a new one)");
            }
            let settings = web::Settings {
                proxies: TrustedProxies::new(trusted_proxies, proxy_header),
                ingest: IngestLimit { per_second: ingest_rate, burst: ingest_burst },
                exports: JobSettings {
                    dir: export_dir,
                    log_dir,
                    retention: chrono::Duration::hours(export_retention_hours.into()),
                    lease: chrono::Duration::seconds(export_lease_seconds.into()),
                },
            };
            if let Some(log) = log {
                tokio::spawn(debug_log::keep_trimmed(log));
            }
            web::serve(addr, store, site_root, settings).await
        }
        Command::Users(command) => users(command).await,
        Command::ApiKeys(ApiKeysCommand::Create { name, scopes, projects, db }) => {
            let scopes = Scope::parse_list(&scopes)?;
            let projects = Projects::parse(&projects.join(","))?;
            let store = db.open().await?;
            let created = Changer::system(&store).create_api_key(&name, &scopes, projects).await?;
            println!(
                "Created API key {} ({}). Its secret is shown only now:",
                created.key.id, created.key.name
            );
            println!("{}", created.secret);
            Ok(())
        }
        Command::ApiKeys(ApiKeysCommand::List { db }) => {
            for key in db.open().await?.list_api_keys().await? {
                let state = if key.revoked { "revoked" } else { "active" };
                let projects = key.projects.to_list().unwrap_or_else(|| "all projects".into());
                let scopes = Scope::join(&key.scopes);
                println!("{}\t{state}\t{scopes}\t{projects}\t{}", key.id, key.name);
            }
            Ok(())
        }
        Command::ApiKeys(ApiKeysCommand::Revoke { id, db }) => {
            let store = db.open().await?;
            let key = Changer::system(&store).revoke_api_key(&id).await?;
            println!("Revoked API key {id} ({}).", key.name);
            Ok(())
        }
        Command::Demo { events, if_empty, db } => {
            let store = db.open().await?;
            let probe = PageRequest { cursor: None, limit: 1 };
            let now = chrono::Utc::now();
            if if_empty
                && !store
                    .list_events(&Filter::default(), &ReadScope::everything(), probe, now)
                    .await?
                    .events
                    .is_empty()
            {
                println!("The database already holds events; no demo events written.");
                return Ok(());
            }
            let mut generator =
                demo::DemoGenerator::new(rand::rngs::StdRng::from_os_rng(), now, events);
            let mut written = 0;
            while written < events {
                let batch = generator.events((events - written).min(1000));
                written += batch.len();
                store.insert_events(batch).await?;
            }
            let messages = demo::messages(now);
            for (message, times) in &messages {
                store.raise_message(message, *times).await?;
            }
            store.optimize().await?;
            println!("Wrote {written} demo events and {} system messages.", messages.len());
            Ok(())
        }
        Command::Copy { from, to, batch } => {
            let source = Store::open(&from).await.context("opening --from")?;
            let target = Store::open(&to).await.context("opening --to")?;
            let read = copy::copy_all(&source, &target, batch).await?;
            println!("Copied {read} events (events already there were left as they were).");
            Ok(())
        }
        Command::Import { format, project, files, db } => {
            let project = project.unwrap_or_else(|| format.default_project().to_owned());
            let project = auditrail_model::Project::parse(project)
                .map_err(|why| anyhow::anyhow!("--project: {why}"))?;
            anyhow::ensure!(
                project.as_str() != auditrail_model::TRAIL_PROJECT,
                "--project: {} is reserved for Auditrail's own audit trail",
                auditrail_model::TRAIL_PROJECT
            );
            let store = db.open().await?;
            let summary = import::import_files(&store, format, &project, &files).await?;
            println!("{summary}");
            // The summary names what was refused; the status lets scripts notice.
            if summary.refused > 0 {
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Migrate { db } => {
            db.open().await?;
            println!("Database is up to date.");
            Ok(())
        }
        Command::Export { format, filter, db } => {
            let store = db.open().await?;
            let query = format!("format={format}&{filter}");
            let exporter =
                export::Exporter { store, reader: Reader::system(), recorded: false, job: None };
            let export =
                export::prepare(exporter, Some(&query)).map_err(|e| anyhow::anyhow!("{e}"))?;
            let mut stream = std::pin::pin!(export.into_stream());
            let mut out = std::io::stdout().lock();
            while let Some(chunk) = stream.next().await {
                out.write_all(&chunk?)?;
            }
            out.flush()?;
            Ok(())
        }
        Command::Deliveries(command) => deliveries(command).await,
        Command::Bench { events, database, samples, batch, clients, servers } => {
            bench::run(bench::BenchOptions { events, database, samples, batch, clients, servers })
                .await
        }
    }
}

async fn deliveries(command: DeliveriesCommand) -> anyhow::Result<()> {
    let system = |entry: Entry| audit::event(&audit::system_actor(), &Default::default(), entry);
    match command {
        DeliveriesCommand::Add { name, to, format, tz, query, at, db } => {
            let format =
                auditrail_model::ExportFormat::parse(&format).map_err(anyhow::Error::msg)?;
            let now = chrono::Utc::now();
            let added = delivery::new_delivery(&name, &to, format, &tz, &query, &at, now)
                .map_err(anyhow::Error::msg)?;
            let entry = Entry::new(Kind::Activity, "deliveries", "add", "Added a delivery")
                .target("delivery", &added.name, None)
                .detail("destination", added.destination.clone())
                .detail("query", added.query.clone());
            db.open().await?.create_delivery(&added, &[system(entry)?]).await?;
            println!(
                "Added delivery {}: each day's events from {} on, at {} {}, to {}",
                added.name,
                added.first_day,
                added.at(),
                added.time_zone,
                added.destination
            );
        }
        DeliveriesCommand::List { db } => {
            let store = db.open().await?;
            for d in store.deliveries().await? {
                let last = store.delivery_runs(&d.name, false, 1).await?.into_iter().next();
                let last = last.map_or_else(
                    || "nothing delivered yet".to_owned(),
                    |r| {
                        format!(
                            "{} {}{}",
                            r.day,
                            r.status.as_str(),
                            r.error.map(|e| format!(": {e}")).unwrap_or_default()
                        )
                    },
                );
                let query = if d.query.is_empty() { "everything" } else { &d.query };
                println!(
                    "{}\t{}\t{}\t{} {}\t{query}\t{last}",
                    d.name,
                    d.destination,
                    d.format.as_str(),
                    d.at(),
                    d.time_zone
                );
            }
        }
        DeliveriesCommand::Remove { name, db } => {
            let entry = Entry::new(Kind::Activity, "deliveries", "remove", "Removed a delivery")
                .target("delivery", &name, None);
            let removed = db.open().await?.delete_delivery(&name, &[system(entry)?]).await?;
            anyhow::ensure!(removed, "no delivery named {name}");
            println!("Removed delivery {name}; what it delivered stays where it is.");
        }
        DeliveriesCommand::Run { name, date, db } => {
            let store = db.open().await?;
            let found = store.deliveries().await?.into_iter().find(|d| d.name == name);
            let found = found.ok_or_else(|| anyhow::anyhow!("no delivery named {name}"))?;
            anyhow::ensure!(
                delivery::has_ended(&found, date, chrono::Utc::now()),
                "{date} has not ended yet in {}; a day is delivered once it is whole",
                found.time_zone
            );
            let scratch = tempfile::tempdir()?;
            let deliverer = delivery::Deliverer::new(store, scratch.path().to_owned());
            let run = deliverer.run_day(&found, date, true).await.map_err(anyhow::Error::msg)?;
            let run = run.ok_or_else(|| {
                anyhow::anyhow!("{date} of {name} is being delivered by a server right now")
            })?;
            match run.status {
                auditrail_model::RunStatus::Done => println!(
                    "Delivered {} of {date} to {} ({} bytes, sha256 {}).",
                    export::count_events(run.rows.unwrap_or(0)),
                    run.object.unwrap_or_default(),
                    run.bytes.unwrap_or(0),
                    run.sha256.unwrap_or_default()
                ),
                _ => anyhow::bail!(
                    "could not deliver {date} of {name}: {}",
                    run.error.unwrap_or_default()
                ),
            }
        }
    }
    Ok(())
}

async fn users(command: UsersCommand) -> anyhow::Result<()> {
    match command {
        UsersCommand::Create { email, role, projects, password, db } => {
            let store = db.open().await?;
            let projects = Projects::parse(&projects.join(","))?;
            let (password, generated) = password.password()?;
            let user =
                Changer::system(&store).create_user(&email, &role, projects, &password).await?;
            println!("Created user {} ({}, role {}).", user.id, user.email, user.role);
            if generated {
                println!("Their password is shown only now:");
                println!("{password}");
            }
        }
        UsersCommand::List { db } => {
            for user in db.open().await?.users().await? {
                let state = if user.active { "active" } else { "deactivated" };
                let projects = user.projects.to_list().unwrap_or_else(|| "all projects".into());
                println!("{}\t{state}\t{}\t{projects}\t{}", user.id, user.role, user.email);
            }
        }
        UsersCommand::ResetPassword { email, password, db } => {
            let store = db.open().await?;
            let email = auditrail_model::User::normalise_email(&email)?;
            let creds = store.credentials(&email).await?;
            let user = creds.map(|c| c.user).with_context(|| format!("no user {email}"))?;
            let (password, generated) = password.password()?;
            Changer::system(&store).set_password(&user, &password).await?;
            println!("Set a new password for {email}; their sessions have ended.");
            if generated {
                println!("{password}");
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn verify_cli() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
