//! `oidc-session-bff`: runs the reference backend-for-frontend with the in-memory session store.
//! Configuration by `BFF_*` environment variables (see README.md).

use oidc_session_bff::{run, Config, MemoryStore};
use std::process::ExitCode;
use std::sync::Arc;

#[tokio::main]
async fn main() -> ExitCode {
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
    match run(config, Arc::new(MemoryStore::new())).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bff: {e}");
            ExitCode::FAILURE
        }
    }
}
