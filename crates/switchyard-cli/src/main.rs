//! The `switchyard` command: run the gateway headless and manage it. Every command
//! works on the data directory directly, so it works whether or not a gateway is
//! running; a running gateway picks changes up within a second.

mod output;

/// jemalloc where it builds: the request path allocates many small short-lived
/// objects, which it serves with less CPU than the system allocator.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use std::io::{IsTerminal, Read};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use switchyard_gateway::manage;
use switchyard_gateway::secrets::{KeyringSecretStore, SecretStore};
use switchyard_store::Store;

#[derive(Parser)]
#[command(
    name = "switchyard",
    version,
    about = "A local LLM gateway: one endpoint, many providers, every request costed"
)]
struct Cli {
    /// Where the database and admin token live [default: the OS's per-user data directory]
    #[arg(long, global = true, env = "SWITCHYARD_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway in the foreground until Ctrl-C or SIGTERM
    Serve {
        /// Address to listen on
        #[arg(long, env = "SWITCHYARD_LISTEN", value_name = "ADDR:PORT", default_value_t = switchyard_gateway::default_listen_addr())]
        listen: SocketAddr,
    },
    /// Make a TOML file the configuration (applying the same file twice changes nothing)
    Apply { file: PathBuf },
    /// Print the configuration as TOML (it never contains secrets)
    Export {
        /// Write to this file instead of standard output
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Gateway keys, which clients present to use the gateway
    #[command(subcommand)]
    Key(KeyCommand),
    /// Provider API keys in the OS keychain
    #[command(subcommand)]
    Secret(SecretCommand),
    /// Requests, tokens, cost and latency from the request log
    Usage {
        #[command(flatten)]
        query: QueryArgs,
        /// table, json or csv
        #[arg(long, default_value = "table")]
        format: String,
    },
    /// Draw an analytics chart as SVG
    Chart {
        /// spend, requests, tokens, latency, cost or savings
        kind: String,
        /// The SVG file to write
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        #[command(flatten)]
        query: QueryArgs,
        /// Width in pixels
        #[arg(long, default_value_t = 800)]
        width: u32,
        /// Height in pixels
        #[arg(long, default_value_t = 400)]
        height: u32,
        /// light or dark
        #[arg(long, default_value = "light")]
        theme: String,
        /// A title instead of the default one
        #[arg(long)]
        title: Option<String>,
        /// For latency charts: latency or ttft (time to first token)
        #[arg(long, default_value = "latency")]
        metric: String,
    },
    /// Spend today and this month, the month's projection and the top models
    Summary {
        /// table or json
        #[arg(long, default_value = "table")]
        format: String,
    },
    /// How long raw request rows are kept (rollups are kept for good)
    Retention {
        /// Keep raw rows this many days (0 keeps them all)
        #[arg(long)]
        days: Option<u32>,
        /// Delete rows past the retention age now (the gateway also does it hourly)
        #[arg(long)]
        prune: bool,
    },
    /// Print the dashboard's address, with the admin token that opens it
    Dashboard {
        /// The running gateway's base URL
        #[arg(long, default_value_t = format!("http://{}", switchyard_gateway::default_listen_addr()))]
        url: String,
    },
}

/// The analytics question, shared by `usage` and `chart`.
#[derive(clap::Args)]
struct QueryArgs {
    /// Look-back window: 90m, 24h, 7d, 30d, ... [default: 24h]
    #[arg(long, conflicts_with_all = ["range", "from", "to"])]
    since: Option<String>,
    /// today, yesterday, this-week, this-month, this-quarter, this-year, all, 24h, 7d, 3mo, ...
    #[arg(long)]
    range: Option<String>,
    /// Start: 2026-11-01, 2026-11-01T09:30, RFC 3339 or Unix milliseconds
    #[arg(long, conflicts_with = "range")]
    from: Option<String>,
    /// End (a date includes that day)
    #[arg(long, conflicts_with = "range")]
    to: Option<String>,
    /// none, minute, hour, day, week or month (local time)
    #[arg(long)]
    bucket: Option<String>,
    /// model, provider, key, policy, user, tag, trace, session, branch, repo, agent,
    /// status, extra.<field>, day, or none
    #[arg(long, default_value = "model")]
    group_by: String,
    /// FIELD=PATTERN[,PATTERN...], e.g. model=anthropic/*; repeatable, all must match
    #[arg(long, value_name = "FIELD=PATTERNS")]
    filter: Vec<String>,
    /// Keep the N most expensive groups and fold the rest into (other)
    #[arg(long, value_name = "N")]
    top: Option<usize>,
}

impl QueryArgs {
    /// The same key=value pairs the admin API takes.
    fn pairs(&self) -> Result<Vec<(String, String)>> {
        let mut pairs = Vec::new();
        let mut push = |k: &str, v: &Option<String>| {
            if let Some(v) = v {
                pairs.push((k.to_string(), v.clone()));
            }
        };
        push("since", &self.since);
        push("range", &self.range);
        push("from", &self.from);
        push("to", &self.to);
        push("bucket", &self.bucket);
        push("top", &self.top.map(|t| t.to_string()));
        pairs.push(("group_by".into(), self.group_by.clone()));
        for filter in &self.filter {
            let Some((field, patterns)) = filter.split_once('=') else {
                bail!("--filter '{filter}' should look like model=anthropic/*");
            };
            pairs.push(("filter".into(), format!("{field}:{patterns}")));
        }
        Ok(pairs)
    }
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Create a key and print it (the only time it is shown)
    Create { name: String },
    /// List keys (never their secrets)
    List,
    /// Revoke a key; requests presenting it are refused from then on
    Revoke { name: String },
}

#[derive(Subcommand)]
enum SecretCommand {
    /// Store a provider key in the OS keychain, read from standard input or a hidden prompt
    Set { name: String },
    /// Remove a provider key from the OS keychain
    Delete { name: String },
}

fn main() {
    let cli = Cli::parse();
    let verbose = matches!(cli.command, Command::Serve { .. });
    init_logging(verbose);
    if let Err(e) = run(cli) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn init_logging(serving: bool) {
    let default = if serving { "info" } else { "warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

fn data_dir(cli: &Cli) -> Result<PathBuf> {
    cli.data_dir
        .clone()
        .or_else(switchyard_gateway::default_data_dir)
        .context("cannot tell where to keep data: set --data-dir or SWITCHYARD_DATA_DIR")
}

fn run(cli: Cli) -> Result<()> {
    let dir = data_dir(&cli)?;
    match cli.command {
        Command::Serve { listen } => serve(dir, listen),
        Command::Apply { file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let store = Store::open(&dir)?;
            let outcome = manage::apply_config(&store, &text)?;
            if outcome.changed {
                println!(
                    "Applied {}: {} provider(s), {} price override(s).",
                    file.display(),
                    outcome.providers,
                    outcome.prices
                );
            } else {
                println!(
                    "No changes: the configuration already matches {}.",
                    file.display()
                );
            }
            Ok(())
        }
        Command::Export { out } => {
            let text = manage::export_config(&Store::open(&dir)?)?;
            match out {
                Some(path) => std::fs::write(&path, text)
                    .with_context(|| format!("cannot write {}", path.display())),
                None => {
                    print!("{text}");
                    Ok(())
                }
            }
        }
        Command::Key(command) => key(&Store::open(&dir)?, command),
        Command::Secret(command) => secret(&Store::open(&dir)?, command),
        Command::Usage { query, format } => {
            if !matches!(format.as_str(), "table" | "json" | "csv") {
                bail!("unknown format '{format}': choose table, json or csv");
            }
            let report = manage::analytics(&Store::open(&dir)?, &query.pairs()?)?;
            match format.as_str() {
                "table" => print!("{}", output::usage_table(&report)),
                "json" => println!("{}", serde_json::to_string_pretty(&report)?),
                _ => print!("{}", manage::usage_csv(&report)),
            }
            Ok(())
        }
        Command::Chart {
            kind,
            out,
            query,
            width,
            height,
            theme,
            title,
            metric,
        } => {
            let kind = manage::parse_chart_kind(&kind)?;
            let mut pairs = query.pairs()?;
            pairs.push(("width".into(), width.to_string()));
            pairs.push(("height".into(), height.to_string()));
            pairs.push(("theme".into(), theme));
            pairs.push(("metric".into(), metric));
            if let Some(title) = title {
                pairs.push(("title".into(), title));
            }
            let svg = manage::chart(&Store::open(&dir)?, kind, &pairs)?;
            std::fs::write(&out, svg).with_context(|| format!("cannot write {}", out.display()))?;
            println!("Wrote {}.", out.display());
            Ok(())
        }
        Command::Summary { format } => {
            let summary = manage::summary(&Store::open(&dir)?)?;
            match format.as_str() {
                "table" => print!("{}", output::summary_table(&summary)),
                "json" => println!("{}", serde_json::to_string_pretty(&summary)?),
                other => bail!("unknown format '{other}': choose table or json"),
            }
            Ok(())
        }
        Command::Retention { days, prune } => {
            let store = Store::open(&dir)?;
            if let Some(days) = days {
                manage::set_retention(&store, days)?;
            }
            if prune {
                let outcome = manage::prune(&store)?;
                println!(
                    "Deleted {} request rows older than the retention age.",
                    outcome.deleted
                );
            }
            print!("{}", output::retention_text(&manage::retention(&store)?));
            Ok(())
        }
        Command::Dashboard { url } => {
            // Opening the store creates the data directory, so the token has a home.
            Store::open(&dir)?;
            let token = switchyard_gateway::auth::load_or_create_admin_token(&dir)
                .context("cannot read the admin token")?;
            println!(
                "{}",
                switchyard_gateway::dashboard_url(url.trim_end_matches('/'), &token)
            );
            Ok(())
        }
    }
}

fn key(store: &Store, command: KeyCommand) -> Result<()> {
    match command {
        KeyCommand::Create { name } => {
            let created = manage::create_key(store, &name)?;
            println!("{}", created.key);
            eprintln!(
                "Created gateway key '{}'. Copy it now: it is not shown again.",
                created.name
            );
        }
        KeyCommand::List => print!("{}", output::keys_table(&store.gateway_keys()?)),
        KeyCommand::Revoke { name } => {
            store.revoke_gateway_key(&name)?;
            println!("Revoked gateway key '{name}'.");
        }
    }
    Ok(())
}

fn secret(store: &Store, command: SecretCommand) -> Result<()> {
    let secrets: Arc<dyn SecretStore> = Arc::new(KeyringSecretStore);
    match command {
        SecretCommand::Set { name } => {
            let value = if std::io::stdin().is_terminal() {
                rpassword::prompt_password(format!("API key for '{name}' (input hidden): "))
                    .context("cannot read the key from the terminal")?
            } else {
                let mut value = String::new();
                std::io::stdin()
                    .read_to_string(&mut value)
                    .context("cannot read the key from standard input")?;
                value
            };
            manage::set_secret(store, &*secrets, &name, &value)?;
            println!(
                "Stored '{name}' in the OS keychain. Reference it as api_key = {{ keyring = \"{name}\" }}."
            );
        }
        SecretCommand::Delete { name } => {
            manage::delete_secret(store, &*secrets, &name)?;
            println!("Removed '{name}' from the OS keychain.");
        }
    }
    Ok(())
}

fn serve(dir: PathBuf, listen: SocketAddr) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let gateway = switchyard_gateway::launch(switchyard_gateway::GatewayOptions {
            data_dir: dir.clone(),
            listen,
            secrets: Arc::new(KeyringSecretStore),
            threads: switchyard_gateway::ServeThreads::PerCore,
        })
        .await?;
        // Whoever started us may have closed our stdout; that is no reason to stop.
        let banner = format!(
            "Switchyard gateway listening on {}\nData in {}; open the dashboard with the link from `switchyard dashboard`.\n",
            gateway.base_url(),
            dir.display()
        );
        let _ = std::io::Write::write_all(&mut std::io::stdout(), banner.as_bytes());
        let _ = std::io::Write::flush(&mut std::io::stdout());
        wait_for_shutdown_signal().await;
        tracing::info!("shutting down: writing queued request records");
        gateway.shutdown().await;
        Ok(())
    })
}

async fn wait_for_shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(all(test, not(target_env = "msvc")))]
mod allocator_tests {
    /// Without background threads, memory freed after a burst of large requests
    /// stays resident until the next allocations (102 MiB after 15 s idle in the
    /// benchmark's agent-sized runs, against 17 MiB at start).
    #[test]
    fn jemalloc_returns_idle_memory_in_the_background() {
        assert_eq!(tikv_jemalloc_ctl::opt::background_thread::read(), Ok(true));
    }
}
