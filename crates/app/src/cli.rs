//! The command line: `tariff [--config FILE] [--database-url URL] [COMMAND]`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use tariff_domain::identity::TokenService;
use tariff_domain::identity::{AccountError, AccountService, NewUser};
use tariff_domain::{BillingDraft, UserId};

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
    /// User accounts.
    #[command(subcommand)]
    Users(UsersCommand),
    /// API tokens.
    #[command(subcommand)]
    Tokens(TokensCommand),
    /// Run the order lifecycle sweep once (renewals, expiry) and exit; the server
    /// runs the same sweep every `billing.sweep_interval_secs`.
    Sweep,
    /// Write an order's invoice (a PROFORMA while the order is pending) as a PDF.
    Invoice(InvoiceArgs),
}

#[derive(Debug, Args)]
pub struct InvoiceArgs {
    /// The order's id.
    pub order_id: i64,
    /// Where to write the PDF.
    #[arg(long, value_name = "FILE.pdf")]
    pub out: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Create a user and print its id alone on stdout.
    Create(UserCreateArgs),
}

#[derive(Debug, Args)]
pub struct UserCreateArgs {
    #[arg(long)]
    pub email: String,
    #[arg(long)]
    pub name: String,
    /// Without one the user cannot log in (API tokens still work).
    #[arg(long)]
    pub password: Option<String>,
    /// Make the user an administrator.
    #[arg(long)]
    pub admin: bool,
}

#[derive(Debug, Subcommand)]
pub enum TokensCommand {
    /// Create an API token for a user and print the token alone on stdout.
    Create(TokenCreateArgs),
}

#[derive(Debug, Args)]
pub struct TokenCreateArgs {
    /// The user the token acts as.
    #[arg(long)]
    pub email: String,
    /// A label for the token (default "API token").
    #[arg(long)]
    pub name: Option<String>,
}

/// `tariff users create`: the same service the admin API uses.
pub async fn create_user(
    accounts: &AccountService,
    args: &UserCreateArgs,
) -> Result<UserId, AccountError> {
    let user = accounts
        .create(
            NewUser {
                email: args.email.clone(),
                name: args.name.clone(),
                password: args.password.clone(),
                role: Some(if args.admin { "admin" } else { "user" }.to_owned()),
                billing: BillingDraft::default(),
            },
            tariff_domain::audit::Actor::Operator,
        )
        .await?;
    Ok(user.id())
}

/// `tariff tokens create`: a token for the user with this email; returns the secret.
pub async fn create_token(
    accounts: &AccountService,
    tokens: &TokenService,
    args: &TokenCreateArgs,
) -> anyhow::Result<String> {
    let user = accounts.find_by_email(&args.email).await?;
    let created = tokens.create(user.id(), args.name.as_deref()).await?;
    Ok(created.secret)
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
