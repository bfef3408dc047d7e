//! `oidc-session-bff`: runs the backend-for-frontend with the store `BFF_STORE` names (memory by
//! default). Configuration by `BFF_*` environment variables (see README.md); logs by `BFF_LOG`
//! (a `tracing` filter, default `info`).

use oidc_session_bff::{run, store_from_config, Config};
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_env("BFF_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("bff: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    if config.test_endpoints {
        eprintln!("bff: WARNING: BFF_TEST_ENDPOINTS=1 mounts test hooks; never in production");
    }
    let store = match store_from_config(&config) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("bff: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    match run(config, store).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bff: {e}");
            ExitCode::FAILURE
        }
    }
}
