//! The contract tests of `contract.rs`, run again with the backend on the Redis store (each
//! harness starts its own `redis-server`; `support::Harness` picks the store by this test
//! target's name).

include!("contract.rs");
