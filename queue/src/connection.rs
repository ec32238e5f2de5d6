//! The connection to Redis that queues and workers share.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig, MultiplexedConnection};
use redis::{AsyncConnectionConfig, Client};

use crate::error::Result;

/// A Redis client plus one shared, self-reconnecting multiplexed connection.
///
/// Blocking reads (a worker waiting for jobs, an event subscriber) never use the shared
/// connection: they open a dedicated one with [`RedisConnection::dedicated`], so a parked
/// read cannot stall enqueues.
#[derive(Clone)]
pub struct RedisConnection {
    client: Client,
    shared: ConnectionManager,
}

impl RedisConnection {
    pub async fn connect(url: &str) -> Result<Self> {
        let client = Client::open(url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(5)))
            .set_response_timeout(Some(Duration::from_secs(10)))
            .set_number_of_retries(3)
            .set_max_delay(Duration::from_secs(2));
        let shared = client.get_connection_manager_with_config(config).await?;
        Ok(RedisConnection { client, shared })
    }

    pub(crate) fn shared(&self) -> ConnectionManager {
        self.shared.clone()
    }

    /// A connection of its own for blocking commands; `block` is the longest block the
    /// caller will ask for, so replies are awaited a little longer than that.
    pub(crate) async fn dedicated(&self, block: Duration) -> Result<MultiplexedConnection> {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(5)))
            .set_response_timeout(Some(block + Duration::from_secs(5)));
        Ok(self.client.get_multiplexed_async_connection_with_config(&config).await?)
    }

    pub(crate) fn client(&self) -> &Client {
        &self.client
    }
}
