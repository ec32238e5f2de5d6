//! The server's implementation of the dashboard's [`Backend`] seam.

use app::backend::{Backend, BoxFuture};
use app::types::SystemStatus;
use redis::aio::ConnectionManager;

use crate::db::Db;

pub struct ServerBackend {
    pub redis: ConnectionManager,
    pub db: Db,
}

impl Backend for ServerBackend {
    fn system_status(&self) -> BoxFuture<'_, SystemStatus> {
        Box::pin(crate::health::system_status(&self.redis, &self.db))
    }
}
