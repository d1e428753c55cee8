//! `tariff`: the binary. Configuration, telemetry, command line and wiring; nothing else.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use tariff_domain::catalogue::CatalogueService;
use tariff_domain::Resource;

use tariff_app::cli::{Cli, Command, PlansCommand, TokensCommand, UsersCommand};
use tariff_app::settings::Settings;
use tariff_app::{import, telemetry, wiring};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return usage_error(&err),
    };
    let settings = match Settings::load(cli.config.as_deref(), cli.database_url.as_deref()) {
        Ok(settings) => settings,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(&settings.log, std::io::stderr);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("error: cannot start the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command.unwrap_or(Command::Serve), settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {}", one_line(&err));
            ExitCode::FAILURE
        }
    }
}

/// Help and version go out as clap prints them; a usage mistake becomes one
/// `error: ...` line (clap's own is a paragraph with the usage) and exit code 2.
fn usage_error(err: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        err.kind(),
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
    ) {
        let _ = err.print();
        return ExitCode::SUCCESS;
    }
    let text = err.render().to_string();
    let line = if err.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        let usage = text
            .lines()
            .find_map(|l| l.strip_prefix("Usage: "))
            .unwrap_or("tariff --help");
        format!("a command is missing; usage: {}", usage.trim())
    } else {
        let first_paragraph: Vec<&str> =
            text.lines().take_while(|l| !l.trim().is_empty()).collect();
        let joined = first_paragraph.join(" ");
        let line = joined.trim().trim_start_matches("error:").trim();
        format!("{} (see --help)", one_line_text(line))
    };
    eprintln!("error: {}", one_line_text(&line));
    ExitCode::from(2)
}

fn one_line_text(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `outer: cause: root cause` on one line.
fn one_line(err: &anyhow::Error) -> String {
    format!("{err:#}")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

async fn run(command: Command, settings: Settings) -> anyhow::Result<()> {
    match command {
        Command::Serve => serve(settings).await,
        Command::Migrate => {
            let db = wiring::open_database(&settings)?;
            let applied = db.migrate().await.context("migration")?;
            println!("applied {} migration(s)", applied.len());
            Ok(())
        }
        Command::Plans(PlansCommand::Import(args)) => {
            let drafts = import::read_plan_file(&args.file)?;
            let wired = wiring::wire(&settings).await?;
            let outcome = wired
                .state
                .catalogue
                .import(drafts, tariff_domain::audit::Actor::Operator)
                .await?;
            println!(
                "imported {} plan(s): {} created, {} updated",
                outcome.created + outcome.updated,
                outcome.created,
                outcome.updated
            );
            Ok(())
        }
        Command::Sweep => {
            let wired = wiring::wire(&settings).await?;
            let report = wired.lifecycle.sweep_now().await.context("sweep")?;
            println!(
                "sweep: {} renewal(s) created, {} free plan(s) extended, {} active and {} pending order(s) expired, {} skipped",
                report.renewals_created,
                report.free_extended,
                report.expired_active,
                report.expired_pending,
                report.skipped
            );
            println!(
                "dunning: {} order(s) past due, {} expired after their grace",
                report.past_due, report.expired_past_due
            );
            if let Some(renewals) = &wired.renewals {
                let charged = renewals.run_now().await.context("renewal charges")?;
                println!(
                    "renewal charges: {} attempted, {} paid, {} declined, {} without a saved payment method",
                    charged.attempted, charged.succeeded, charged.declined, charged.without_method
                );
            }
            // Renewals charged now were numbered: their invoices before the process ends.
            wired.invoice_worker.drain().await;
            Ok(())
        }
        Command::Invoice(args) => {
            let id = tariff_domain::OrderId::new(args.order_id)
                .ok_or_else(|| anyhow::anyhow!("order id must be a positive number"))?;
            let wired = wiring::wire(&settings).await?;
            let pdf = wired
                .state
                .invoices
                .pdf_for_operator(id)
                .await?
                .into_bytes();
            std::fs::write(&args.out, &pdf)
                .with_context(|| format!("cannot write {}", args.out.display()))?;
            println!("wrote {} ({} bytes)", args.out.display(), pdf.len());
            Ok(())
        }
        Command::Plans(PlansCommand::List) => {
            let wired = wiring::wire(&settings).await?;
            print_plan_table(&wired.state.catalogue).await
        }
        Command::Users(UsersCommand::Create(args)) => {
            let wired = wiring::wire(&settings).await?;
            let id = tariff_app::cli::create_user(&wired.state.accounts, &args).await?;
            println!("{id}");
            Ok(())
        }
        Command::Tokens(TokensCommand::Create(args)) => {
            let wired = wiring::wire(&settings).await?;
            let token =
                tariff_app::cli::create_token(&wired.state.accounts, &wired.state.tokens, &args)
                    .await?;
            println!("{token}");
            Ok(())
        }
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let running = tariff_app::launch(&settings).await?;
    // Tests and scripts read the bound address (port 0 picks a free one) from stdout.
    println!("tariff listening on http://{}", running.address);
    let _ = std::io::stdout().flush();
    let served = running.server.await.context("server");
    if let Some(report) = running.webhooks.stop().await {
        tracing::info!(?report, "webhook worker stopped");
    }
    served?;
    tracing::info!("stopped");
    Ok(())
}

async fn print_plan_table(catalogue: &CatalogueService) -> anyhow::Result<()> {
    let plans = catalogue.list(true).await?;
    let limit = |p: &tariff_domain::Plan, r| match p.limits().get(r).value() {
        0 => "∞".to_owned(),
        v => v.to_string(),
    };
    let mut rows = vec![[
        "ID".to_owned(),
        "NAME".into(),
        "TYPE".into(),
        "PRICE".into(),
        "SERVERS".into(),
        "SITES".into(),
        "MEMORY MB".into(),
        "DISK MB".into(),
        "FLAGS".into(),
    ]];
    for plan in &plans {
        let mut flags = Vec::new();
        if plan.is_default() {
            flags.push("default");
        }
        if plan.hidden() {
            flags.push("hidden");
        }
        rows.push([
            plan.id().to_string(),
            plan.name().to_owned(),
            plan.plan_type().to_string(),
            plan.price().to_string(),
            limit(plan, Resource::Servers),
            limit(plan, Resource::Sites),
            limit(plan, Resource::Memory),
            limit(plan, Resource::Disk),
            flags.join(","),
        ]);
    }
    let widths: Vec<usize> = (0..9)
        .map(|col| {
            rows.iter()
                .map(|r| r[col].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = std::io::stdout().lock();
    for row in rows {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        writeln!(out, "{}", line.join("  ").trim_end())?;
    }
    Ok(())
}
