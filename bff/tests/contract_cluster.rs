//! The contract tests of `contract.rs`, run against the deployment of `cluster.rs`: three
//! instances of the binary on one Redis behind HAProxy (round robin), the browser on the proxy's
//! origin. Each test starts its own provider, `redis-server`, HAProxy and instances;
//! `support::Harness` picks that harness by this test target's name. What differs from one
//! instance is only how a test reaches per-process state: `Harness::stats` sums the instances'
//! counters, and `Harness::fail_refresh` arms (or disarms) a fault on every instance.

include!("contract.rs");
