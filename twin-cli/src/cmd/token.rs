//! `twin token create|list|revoke <twin> ...`: the API tokens of a twin's server, kept hashed
//! in its store (`twin_core::tokens`). A new token is printed once.

use anyhow::Result;
use std::path::PathBuf;
use twin_core::tokens::{Role, TokenInfo, Tokens};
use twin_core::TwinDir;

/// `twin token` subcommands.
#[derive(clap::Subcommand)]
pub enum TokenCmd {
    /// Make a token with a role (viewer, planner, editor, admin) and print it, once.
    Create {
        /// The twin folder.
        twin: PathBuf,
        /// What the token may do: viewer (read), planner (scenario runs), editor (data
        /// writes), admin (tokens).
        #[arg(long)]
        role: Role,
        /// A name for people: who or what holds the token.
        #[arg(long, default_value = "")]
        name: String,
        /// Print the token alone on stdout (for scripts).
        #[arg(long)]
        quiet: bool,
    },
    /// List the tokens (ids, names, roles, when made and revoked; never secrets).
    List {
        /// The twin folder.
        twin: PathBuf,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token by its id (or the whole token): refused from then on, still listed.
    Revoke {
        /// The twin folder.
        twin: PathBuf,
        /// The token's id (the 12 hex digits after `ht_`).
        id: String,
    },
}

/// The twin's tokens, with its writer lock held so that a build running beside cannot carry
/// the old token list over a change (list holds it too: it is short).
fn tokens(twin: &std::path::Path) -> Result<(Tokens, twin_core::folder::WriterLock)> {
    let dir = TwinDir::open(twin)?;
    let lock = dir.lock_writer()?;
    Ok((Tokens::open_store(&dir.store)?, lock))
}

fn time(secs: u64) -> String {
    humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs))
        .to_string()
}

fn json(t: &TokenInfo) -> serde_json::Value {
    serde_json::json!({
        "id": t.id,
        "name": t.name,
        "role": t.role.as_str(),
        "created": time(t.created),
        "revoked": t.revoked.map(time),
    })
}

/// Runs a `twin token` subcommand.
pub fn run(cmd: TokenCmd) -> Result<()> {
    match cmd {
        TokenCmd::Create {
            twin,
            role,
            name,
            quiet,
        } => {
            let new = tokens(&twin)?.0.create(role, &name)?;
            if quiet {
                println!("{}", new.token);
            } else {
                println!("token {} ({}, {role}) created:", new.info.id, new.info.name);
                println!("{}", new.token);
                println!("It is shown only this once: only its hash is stored. Send it as");
                println!("  Authorization: Bearer <token>");
            }
        }
        TokenCmd::List {
            twin,
            json: as_json,
        } => {
            let list = tokens(&twin)?.0.list()?;
            if as_json {
                let v: Vec<serde_json::Value> = list.iter().map(json).collect();
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else if list.is_empty() {
                println!("no tokens");
            } else {
                println!(
                    "{:<12}  {:<7}  {:<20}  {:<20}  name",
                    "id", "role", "created", "revoked"
                );
                for t in &list {
                    println!(
                        "{:<12}  {:<7}  {:<20}  {:<20}  {}",
                        t.id,
                        t.role,
                        time(t.created),
                        t.revoked.map_or_else(|| "-".into(), time),
                        t.name
                    );
                }
            }
        }
        TokenCmd::Revoke { twin, id } => {
            let t = tokens(&twin)?.0.revoke(&id)?;
            println!("token {} ({}, {}) revoked", t.id, t.name, t.role);
        }
    }
    Ok(())
}
