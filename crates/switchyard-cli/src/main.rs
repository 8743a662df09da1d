//! The `switchyard` command: run the gateway headless and manage it. Every command
//! works on the data directory directly, so it works whether or not a gateway is
//! running; a running gateway picks changes up within a second.

mod output;

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
        /// Look-back window: 90m, 24h, 7d, 30d, ...
        #[arg(long, default_value = "24h")]
        since: String,
        /// model, provider, key or day
        #[arg(long, default_value = "model")]
        group_by: String,
        /// table, json or csv
        #[arg(long, default_value = "table")]
        format: String,
    },
    /// Print the dashboard's address, with the admin token that opens it
    Dashboard {
        /// The running gateway's base URL
        #[arg(long, default_value_t = format!("http://{}", switchyard_gateway::default_listen_addr()))]
        url: String,
    },
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
        Command::Usage {
            since,
            group_by,
            format,
        } => {
            let since = manage::parse_since(&since)?;
            let group_by = manage::parse_group_by(&group_by)?;
            let usage = manage::usage(&Store::open(&dir)?, since, group_by)?;
            match format.as_str() {
                "table" => print!("{}", output::usage_table(&usage)),
                "json" => println!("{}", serde_json::to_string_pretty(&usage)?),
                "csv" => print!("{}", manage::usage_csv(&usage)),
                other => bail!("unknown format '{other}': choose table, json or csv"),
            }
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
