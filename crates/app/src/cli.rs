//! The command line: `tariff [--config FILE] [--database-url URL] [COMMAND]`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "tariff",
    version,
    about = "Billing, plan and quota service for hosting control panels"
)]
pub struct Cli {
    /// TOML configuration file (default: ./tariff.toml when present).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Database URL (sqlite://PATH or postgres://...); overrides DATABASE_URL.
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Migrate the database, then serve HTTP (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Plan catalogue.
    #[command(subcommand)]
    Plans(PlansCommand),
}

#[derive(Debug, Subcommand)]
pub enum PlansCommand {
    /// Import plans from a TOML or JSON file (upsert by name, all or nothing).
    Import(ImportArgs),
    /// Print the catalogue as a table, cheapest first.
    List,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// A `.toml` file with `[[plans]]` tables, or a `.json` list of plans.
    pub file: PathBuf,
}
