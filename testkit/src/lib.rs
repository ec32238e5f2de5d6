//! Throw-away infrastructure for tests: a private `redis-server` per test and fresh
//! SQLite or PostgreSQL databases, and an SMTP server that records what it receives. Every helper cleans up when dropped, so tests run in
//! parallel without sharing state.

mod certificates;
mod faketime;
mod postgres_server;
mod redis_cluster;
mod redis_sentinel;
mod redis_server;
mod smtp_server;
mod sql;

pub use faketime::libfaketime;
pub use postgres_server::PostgresServer;
pub use redis_cluster::RedisCluster;
pub use redis_sentinel::{RedisSentinel, SENTINEL_MASTER_NAME};
pub use redis_server::{RedisOptions, RedisServer};
pub use smtp_server::{ReceivedMail, SmtpServer};
pub use sql::{TestDatabase, postgres_admin_url, postgres_database, postgres_database_at, sqlite_database};
