//! The contract suite: the real app on 127.0.0.1:0, a fresh database per
//! test, talked to over HTTP. Every test runs once per backend (see
//! `backend_tests!`).

mod helpers;

mod accounts;
mod accounts_lifecycle;
mod architecture;
mod calibration;
mod citus;
mod cli;
mod concurrency;
mod credentials;
mod disconnects;
mod errors;
mod estimates;
mod fake_ai;
mod hostile;
mod isolation;
mod local_ai;
mod members;
mod metrics;
mod migrations;
mod openapi;
mod operations;
mod random_isolation;
mod rls;
mod scale_out;
mod smtp;
mod sql_cli;
mod store_contract;
mod tenants;
mod timers;
mod todos;
mod transfer;
mod workload;
