//! The `stroom` binary: serve the API, migrate the database, load the demo or generated data,
//! print the schema, manage API keys and webhooks, import spreadsheets.
// The GraphQL schema (sixteen merged query roots) makes deep async types; the compiler needs
// a higher limit to lay them out in release builds.
#![recursion_limit = "256"]
use anyhow::Context;
use stroom_api::config::{Cli, Command};
use stroom_api::{Application, db, schema, telemetry};
use stroom_seed::demo;

// Under load, glibc's allocator took a third of the server's CPU time (many small,
// short-lived allocations per GraphQL field, across threads); with mimalloc the allocator's
// share fell to about a seventh.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse_checked();
    // Kept until the end of `main`, so exported spans are flushed on exit.
    let telemetry = telemetry::init(
        cli.global.log_format,
        cli.global.log_spans,
        cli.global.otel_endpoint.as_deref(),
    );
    match cli.command.unwrap_or(Command::Serve(cli.serve)) {
        Command::Serve(serve) => {
            let served = Application::build_with(&cli.global, &serve, Some(demo::seeder))
                .await
                .context("starting the server")?
                .run_until_stopped()
                .await;
            // Requests cut off at the end of the grace period may still hold tasks and
            // database calls; the process ends now rather than wait for them.
            drop(telemetry);
            match served {
                Ok(()) => std::process::exit(0),
                Err(error) => {
                    eprintln!("Error: {error:#}");
                    std::process::exit(1)
                }
            }
        }
        Command::Migrate => {
            let connected =
                db::connect(cli.global.database_url(), cli.global.db_max_connections).await?;
            db::migrate(&connected.db).await?;
            tracing::info!("migrations applied");
            Ok(())
        }
        Command::Seed(seed) => {
            if !seed.demo {
                anyhow::bail!("nothing to seed: pass --demo to load the Stroom demo data");
            }
            let connected =
                db::connect(cli.global.database_url(), cli.global.db_max_connections).await?;
            db::migrate(&connected.db).await?;
            if demo::load_if_empty(&connected.db).await? {
                // Loaded around the write frame: every kept answer of a running server is void.
                stroom_api::stamps::bump(&connected.db, None).await?;
                tracing::info!("demo data loaded");
            } else {
                tracing::warn!("the database already holds data; the demo data was not loaded");
            }
            Ok(())
        }
        Command::Generate(args) => {
            let scale = stroom_seed::generate::scale_of(&args)?;
            let connected =
                db::connect(cli.global.database_url(), cli.global.db_max_connections).await?;
            db::migrate(&connected.db).await?;
            let report = stroom_seed::generate(&connected.db, scale, args.seed).await?;
            // Loaded around the write frame: every kept answer of a running server is void.
            stroom_api::stamps::bump(&connected.db, None).await?;
            println!("{:<22} {:>12}", "table", "rows");
            for (table, rows) in &report.rows {
                println!("{table:<22} {rows:>12}");
            }
            println!("generated in {:.1} s", report.elapsed.as_secs_f64());
            Ok(())
        }
        Command::Schema => {
            print!("{}", schema::sdl());
            Ok(())
        }
        Command::Ready { url } => {
            let status = stroom_api::http::probe(&url)
                .await
                .with_context(|| format!("asking {url}"))?;
            if status == 200 {
                Ok(())
            } else {
                anyhow::bail!("{url} answered {status}")
            }
        }
        Command::Keys(command) => {
            let connected =
                db::connect(cli.global.database_url(), cli.global.db_max_connections).await?;
            db::migrate(&connected.db).await?;
            stroom_api::keys::run(&connected.db, command).await
        }
        Command::Import(args) => {
            if args.template.is_some() || args.columns {
                return stroom_api::imports::run_template(&args);
            }
            let connected =
                db::connect(cli.global.database_url(), cli.global.db_max_connections).await?;
            db::migrate(&connected.db).await?;
            if stroom_api::imports::run(&connected.db, args).await? {
                Ok(())
            } else {
                // Rows were refused (the report says which): scripts see it.
                std::process::exit(1)
            }
        }
        Command::Follow(command) => {
            let connected =
                db::connect(cli.global.database_url(), cli.global.db_max_connections).await?;
            db::migrate(&connected.db).await?;
            stroom_api::follows::run(&connected.db, command).await
        }
        Command::Webhooks(command) => {
            let connected =
                db::connect(cli.global.database_url(), cli.global.db_max_connections).await?;
            db::migrate(&connected.db).await?;
            stroom_api::webhooks::run(&connected.db, command).await
        }
    }
}
