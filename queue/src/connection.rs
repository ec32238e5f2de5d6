//! The connection to Redis that queues and workers share: a single server, a Redis
//! Cluster when `REDIS_URL` lists several nodes separated by commas, or the master of a
//! Sentinel group (`redis+sentinel://`, see `sentinel.rs`).

use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig, MultiplexedConnection};
#[cfg(feature = "cluster")]
use redis::cluster::ClusterClient;
#[cfg(feature = "cluster")]
use redis::cluster_async::ClusterConnection;
use redis::{AsyncConnectionConfig, Client, Cmd, Pipeline, RedisFuture, Value};

use crate::error::Result;

/// A connection to either kind of deployment; every engine command goes through it.
#[derive(Clone)]
pub(crate) enum Conn {
    Single(ConnectionManager),
    Dedicated(MultiplexedConnection),
    #[cfg(feature = "cluster")]
    Cluster(ClusterConnection),
    #[cfg(feature = "sentinel")]
    Sentinel(crate::sentinel::SentinelConnection),
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Single(c) => c.req_packed_command(cmd),
            Conn::Dedicated(c) => c.req_packed_command(cmd),
            #[cfg(feature = "cluster")]
            Conn::Cluster(c) => c.req_packed_command(cmd),
            #[cfg(feature = "sentinel")]
            Conn::Sentinel(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Single(c) => c.req_packed_commands(cmd, offset, count),
            Conn::Dedicated(c) => c.req_packed_commands(cmd, offset, count),
            #[cfg(feature = "cluster")]
            Conn::Cluster(c) => c.req_packed_commands(cmd, offset, count),
            #[cfg(feature = "sentinel")]
            Conn::Sentinel(c) => c.req_packed_commands(cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Single(c) => c.get_db(),
            Conn::Dedicated(c) => c.get_db(),
            #[cfg(feature = "cluster")]
            Conn::Cluster(c) => c.get_db(),
            #[cfg(feature = "sentinel")]
            Conn::Sentinel(c) => c.get_db(),
        }
    }
}

#[derive(Clone)]
enum Deployment {
    Single(Box<Client>),
    #[cfg(feature = "cluster")]
    Cluster(Box<ClusterClient>),
    #[cfg(feature = "sentinel")]
    Sentinel(Arc<crate::sentinel::SentinelResolver>),
}

/// A Redis client plus one shared, self-reconnecting multiplexed connection.
///
/// Blocking reads (a worker waiting for jobs, an event subscriber) never use the shared
/// connection: they open a dedicated one, so a parked read cannot stall enqueues.
#[derive(Clone)]
pub struct RedisConnection {
    deployment: Deployment,
    /// Pub/Sub goes to one node; in a cluster, PUBLISH reaches every node. (Behind
    /// Sentinel, to the master of the moment instead.)
    pubsub: Client,
    shared: Conn,
    /// The prefix of every key of the queues, schedules and lockouts opened on it.
    key_prefix: Arc<str>,
}

/// The key prefix a connection starts with.
pub const DEFAULT_KEY_PREFIX: &str = "hoist";

/// Longest key prefix.
pub const MAX_KEY_PREFIX: usize = 64;

/// Certificates for `rediss://` URLs beyond the system's trust store (PEM bytes): the CA
/// that signed the server's certificate, and a client certificate and key for mutual TLS.
/// Used by [`RedisConnection::connect_tls`] (feature `tls`).
#[derive(Clone, Default)]
pub struct TlsFiles {
    pub ca: Option<Vec<u8>>,
    pub client_cert: Option<Vec<u8>>,
    pub client_key: Option<Vec<u8>>,
}

impl std::fmt::Debug for TlsFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key is a secret.
        f.debug_struct("TlsFiles")
            .field("ca", &self.ca.is_some())
            .field("client_cert", &self.client_cert.is_some())
            .field("client_key", &self.client_key.is_some())
            .finish()
    }
}

#[cfg(feature = "tls")]
impl TlsFiles {
    fn certificates(&self) -> Result<redis::TlsCertificates> {
        let client_tls = match (&self.client_cert, &self.client_key) {
            (Some(cert), Some(key)) => {
                Some(redis::ClientTlsConfig { client_cert: cert.clone(), client_key: key.clone() })
            }
            (None, None) => None,
            _ => {
                return Err(crate::error::QueueError::InvalidOption {
                    field: "tls",
                    reason: "a client certificate needs its key, and a key its certificate".into(),
                });
            }
        };
        Ok(redis::TlsCertificates { client_tls, root_cert: self.ca.clone() })
    }
}

impl RedisConnection {
    /// `redis://host:port` for one server; `redis://a:7000,redis://b:7001,...` for a
    /// Redis Cluster (any subset of its nodes). `rediss://` (TLS, feature `tls`) trusts
    /// the system's certificate authorities; [`RedisConnection::connect_tls`] takes others.
    pub async fn connect(url: &str) -> Result<Self> {
        Self::open(url, None).await
    }

    /// Like [`RedisConnection::connect`] for `rediss://` URLs, trusting the CA in `files`
    /// (a private CA, as managed services and self-signed setups use) and presenting a
    /// client certificate when the server asks for one (mutual TLS).
    ///
    /// ```no_run
    /// # async fn open() -> hoist_queue::Result<()> {
    /// let files = hoist_queue::TlsFiles { ca: std::fs::read("ca.pem").ok(), ..Default::default() };
    /// let redis = hoist_queue::RedisConnection::connect_tls("rediss://cache.internal:6380", &files).await?;
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "tls")]
    pub async fn connect_tls(url: &str, files: &TlsFiles) -> Result<Self> {
        Self::open(url, Some(files)).await
    }

    #[cfg_attr(not(feature = "tls"), allow(unused_variables))]
    async fn open(url: &str, tls: Option<&TlsFiles>) -> Result<Self> {
        let client_for = |node: &str| -> Result<Client> {
            #[cfg(feature = "tls")]
            if let Some(files) = tls {
                return Ok(Client::build_with_tls(node, files.certificates()?)?);
            }
            Ok(Client::open(node)?)
        };
        #[cfg(feature = "sentinel")]
        if url.starts_with(crate::sentinel::SENTINEL_SCHEME) {
            if tls.is_some() {
                return Err(crate::error::QueueError::InvalidOption {
                    field: "redis_url",
                    reason: "TLS through Sentinel is not supported yet".into(),
                });
            }
            let parsed = crate::sentinel::SentinelUrl::parse(url)?;
            let resolver = Arc::new(crate::sentinel::SentinelResolver::new(&parsed)?);
            let shared = crate::sentinel::SentinelConnection::connect(resolver.clone(), parsed.db).await?;
            return Ok(RedisConnection {
                pubsub: resolver.master().await?,
                deployment: Deployment::Sentinel(resolver),
                shared: Conn::Sentinel(shared),
                key_prefix: DEFAULT_KEY_PREFIX.into(),
            });
        }
        let nodes: Vec<&str> = url.split(',').map(str::trim).filter(|n| !n.is_empty()).collect();
        #[cfg(not(feature = "cluster"))]
        if nodes.len() > 1 {
            return Err(crate::error::QueueError::InvalidOption {
                field: "redis_url",
                reason:
                    "lists several nodes (a Redis Cluster), but hoist-queue was built without its `cluster` feature"
                        .into(),
            });
        }
        #[cfg(feature = "cluster")]
        if nodes.len() > 1 {
            let builder = ClusterClient::builder(nodes.clone())
                .connection_timeout(Duration::from_secs(5))
                .response_timeout(Duration::from_secs(10))
                .retries(5);
            #[cfg(feature = "tls")]
            let builder = match tls {
                Some(files) => builder.certs(files.certificates()?),
                None => builder,
            };
            let client = builder.build()?;
            let shared = Conn::Cluster(client.get_async_connection().await?);
            return Ok(RedisConnection {
                pubsub: client_for(nodes[0])?,
                deployment: Deployment::Cluster(Box::new(client)),
                shared,
                key_prefix: DEFAULT_KEY_PREFIX.into(),
            });
        }
        let client = client_for(url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(5)))
            .set_response_timeout(Some(Duration::from_secs(10)))
            .set_number_of_retries(3)
            .set_max_delay(Duration::from_secs(2));
        let shared = Conn::Single(client.get_connection_manager_with_config(config).await?);
        Ok(RedisConnection {
            pubsub: client.clone(),
            deployment: Deployment::Single(Box::new(client)),
            shared,
            key_prefix: DEFAULT_KEY_PREFIX.into(),
        })
    }

    /// The same connection, with `prefix` before every key of the queues, schedules and
    /// lockouts opened on it ([`crate::Queue::new`], [`crate::Scheduler::new`],
    /// [`crate::Lockout::new`]) and listed by [`crate::Queue::list_all`]: two
    /// installations with different prefixes share a Redis without seeing each other.
    /// 1 to 64 letters, digits, `_`, `-` or `.`.
    ///
    /// ```no_run
    /// # async fn open() -> hoist_queue::Result<()> {
    /// let redis = hoist_queue::RedisConnection::connect("redis://127.0.0.1:6379").await?.with_key_prefix("billing")?;
    /// let invoices = hoist_queue::Queue::new(&redis, "invoices")?; // keys billing:{invoices}:...
    /// # Ok(()) }
    /// ```
    pub fn with_key_prefix(mut self, prefix: &str) -> Result<Self> {
        check_key_prefix(prefix)?;
        self.key_prefix = prefix.into();
        Ok(self)
    }

    /// The prefix of the keys of queues opened on this connection (`hoist` unless set).
    pub fn key_prefix(&self) -> &str {
        &self.key_prefix
    }

    /// True when connected to a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        #[cfg(feature = "cluster")]
        return matches!(self.deployment, Deployment::Cluster(_));
        #[cfg(not(feature = "cluster"))]
        false
    }

    /// Runs one command on the shared connection, for tools and tests that look at Redis
    /// directly (the engine's own commands go through [`crate::Queue`]).
    pub async fn query<T: redis::FromRedisValue>(&self, cmd: &Cmd) -> Result<T> {
        Ok(cmd.query_async(&mut self.shared()).await?)
    }

    /// Redis's current time (epoch ms): the clock job times (created, finished) are read
    /// from. On a cluster, one node's clock.
    pub async fn redis_time(&self) -> Result<i64> {
        crate::backend::clock::now_at(self, &format!("{}:clock", self.key_prefix)).await
    }

    /// The Redis server's version (e.g. "7.0.15"), for a status page.
    pub async fn server_version(&self) -> Result<String> {
        crate::backend::server_version(self).await
    }

    /// What the server does about memory and persistence: a job system needs
    /// `maxmemory-policy noeviction` ([`ServerSettings::evicts_keys`](crate::ServerSettings::evicts_keys)),
    /// and loses every queued job on a restart without AOF or snapshots.
    pub async fn server_settings(&self) -> Result<crate::ServerSettings> {
        crate::backend::server_settings(self).await
    }

    pub(crate) fn shared(&self) -> Conn {
        self.shared.clone()
    }

    /// A connection of its own for blocking commands; `block` is the longest block the
    /// caller will ask for, so replies are awaited a little longer than that.
    pub(crate) async fn dedicated(&self, block: Duration) -> Result<Conn> {
        match &self.deployment {
            Deployment::Single(client) => Ok(Conn::Dedicated(
                client.get_multiplexed_async_connection_with_config(&dedicated_config(block)).await?,
            )),
            // A fresh cluster connection has its own sockets to every node.
            #[cfg(feature = "cluster")]
            Deployment::Cluster(client) => Ok(Conn::Cluster(client.get_async_connection().await?)),
            // The master of the moment: a worker's next wait after a failover goes there.
            #[cfg(feature = "sentinel")]
            Deployment::Sentinel(resolver) => {
                let client = resolver.master().await?;
                Ok(Conn::Dedicated(
                    client.get_multiplexed_async_connection_with_config(&dedicated_config(block)).await?,
                ))
            }
        }
    }

    /// A client for Pub/Sub: the master of the moment behind Sentinel, else the node the
    /// connection was opened on.
    pub(crate) async fn pubsub_client(&self) -> Result<Client> {
        #[cfg(feature = "sentinel")]
        if let Deployment::Sentinel(resolver) = &self.deployment {
            return resolver.master().await;
        }
        Ok(self.pubsub.clone())
    }
}

/// A dedicated connection's settings: replies are awaited a little longer than `block`.
fn dedicated_config(block: Duration) -> AsyncConnectionConfig {
    AsyncConnectionConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(5)))
        .set_response_timeout(Some(block + Duration::from_secs(5)))
}

/// Checks the shape of a `redis+sentinel://[user:password@]host:port[,host:port...]/MASTER[/DB]`
/// URL without connecting (feature `sentinel`).
///
/// ```
/// assert!(hoist_queue::check_sentinel_url("redis+sentinel://10.0.0.1:26379,10.0.0.2:26379/jobs").is_ok());
/// assert!(hoist_queue::check_sentinel_url("redis+sentinel://10.0.0.1/jobs").is_err());
/// ```
#[cfg(feature = "sentinel")]
pub fn check_sentinel_url(url: &str) -> Result<()> {
    crate::sentinel::SentinelUrl::parse(url).map(|_| ())
}

/// A key prefix is 1 to [`MAX_KEY_PREFIX`] letters, digits, `_`, `-` or `.`: nothing that
/// would read as a hash tag or a separator of the keys after it.
pub fn check_key_prefix(prefix: &str) -> Result<()> {
    let invalid = |reason: &str| crate::error::QueueError::InvalidOption {
        field: "key_prefix",
        reason: format!("{prefix:?} {reason}"),
    };
    if prefix.is_empty() || prefix.len() > MAX_KEY_PREFIX {
        return Err(invalid(&format!("must be 1 to {MAX_KEY_PREFIX} characters")));
    }
    if !prefix.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')) {
        return Err(invalid("may hold only letters, digits, '_', '-' and '.'"));
    }
    Ok(())
}
