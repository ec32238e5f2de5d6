//! Redis behind Sentinel: `redis+sentinel://[user[:password]@]host:port[,host:port…]/MASTER[/DB]`
//! names the Sentinels and the master group; every connection goes to whichever server
//! the Sentinels call master now, and a connection that fails or finds its server
//! demoted (`READONLY`) asks them again, so workers carry on after a failover without a
//! restart.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::sentinel::{SentinelClient, SentinelNodeConnectionInfo, SentinelServerType};
use redis::{AsyncConnectionConfig, Client, Cmd, ErrorKind, Pipeline, RedisError, RedisFuture, ServerErrorKind, Value};

use crate::error::{QueueError, Result};

/// The URL scheme of a Sentinel deployment.
pub const SENTINEL_SCHEME: &str = "redis+sentinel://";

/// What a `redis+sentinel://` URL says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SentinelUrl {
    /// `redis://host:port` of each Sentinel.
    pub sentinels: Vec<String>,
    /// The master group's name (`sentinel monitor NAME …`).
    pub master: String,
    pub db: i64,
    pub username: Option<String>,
    pub password: Option<String>,
}

impl SentinelUrl {
    pub(crate) fn parse(url: &str) -> Result<Self> {
        let invalid = |reason: &str| QueueError::InvalidOption {
            field: "redis_url",
            reason: format!(
                "{reason} (expected redis+sentinel://[user:password@]host:port[,host:port...]/MASTER_NAME[/DB])"
            ),
        };
        let rest = url.strip_prefix(SENTINEL_SCHEME).ok_or_else(|| invalid("not a redis+sentinel:// URL"))?;
        // Credentials first (a password may hold `/`); they never appear in an error.
        let (credentials, rest) = match rest.rsplit_once('@') {
            Some((credentials, rest)) => (Some(credentials), rest),
            None => (None, rest),
        };
        let (authority, path) = rest.split_once('/').ok_or_else(|| invalid("names no master"))?;
        let hosts = authority;
        let (username, password) = match credentials {
            Some(credentials) => {
                let (user, password) = credentials.split_once(':').unwrap_or((credentials, ""));
                let decode = |text: &str| {
                    percent_decode(text).ok_or_else(|| invalid("credentials are not percent-encoded UTF-8"))
                };
                (non_empty(&decode(user)?), non_empty(&decode(password)?))
            }
            None => (None, None),
        };
        let mut sentinels = vec![];
        for host in hosts.split(',').map(str::trim) {
            let (name, port) = host.rsplit_once(':').ok_or_else(|| invalid(&format!("{host:?} has no port")))?;
            if name.is_empty() || port.parse::<u16>().is_err() {
                return Err(invalid(&format!("{host:?} is not host:port")));
            }
            sentinels.push(format!("redis://{host}"));
        }
        let mut parts = path.split('/');
        let master = parts.next().unwrap_or_default().to_string();
        if master.is_empty() || master.len() > 200 || !master.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(invalid("names no master (1 to 200 visible characters)"));
        }
        let db = match parts.next() {
            None | Some("") => 0,
            Some(db) => db.parse::<i64>().ok().filter(|db| (0..=1000).contains(db)).ok_or_else(|| invalid("bad DB"))?,
        };
        if parts.next().is_some() {
            return Err(invalid("has more after the DB"));
        }
        Ok(SentinelUrl { sentinels, master, db, username, password })
    }
}

/// `%XX` escapes decoded, as URLs carry credentials; `None` for a broken escape or bytes
/// that are not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn non_empty(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_string())
}

/// Asks the Sentinels which server is master, for new connections.
pub(crate) struct SentinelResolver {
    client: tokio::sync::Mutex<SentinelClient>,
    master: String,
}

impl SentinelResolver {
    pub(crate) fn new(url: &SentinelUrl) -> Result<Self> {
        let mut info = redis::RedisConnectionInfo::default().set_db(url.db);
        if let Some(username) = &url.username {
            info = info.set_username(username);
        }
        if let Some(password) = &url.password {
            info = info.set_password(password);
        }
        let node = SentinelNodeConnectionInfo::default().set_redis_connection_info(info);
        let client =
            SentinelClient::build(url.sentinels.clone(), url.master.clone(), Some(node), SentinelServerType::Master)?;
        Ok(SentinelResolver { client: tokio::sync::Mutex::new(client), master: url.master.clone() })
    }

    /// A client for the current master.
    pub(crate) async fn master(&self) -> Result<Client> {
        let mut client = self.client.lock().await;
        client.async_get_client().await.map_err(|e| {
            QueueError::Redis(RedisError::from((
                ErrorKind::Io,
                "no Sentinel named a reachable master",
                format!("master {:?}: {e}", self.master),
            )))
        })
    }
}

/// The shared connection of a Sentinel deployment: one multiplexed connection to the
/// current master, replaced when it fails or its server is no longer master. The failing
/// command's error is returned (callers retry, as they do when a single Redis restarts).
#[derive(Clone)]
pub(crate) struct SentinelConnection {
    shared: Arc<Shared>,
    db: i64,
}

struct Shared {
    resolver: Arc<SentinelResolver>,
    config: AsyncConnectionConfig,
    current: Mutex<Option<MultiplexedConnection>>,
    /// One reconnection at a time; the others wait for it and use its connection.
    reconnecting: tokio::sync::Mutex<()>,
}

impl SentinelConnection {
    pub(crate) async fn connect(resolver: Arc<SentinelResolver>, db: i64) -> Result<Self> {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(5)))
            .set_response_timeout(Some(Duration::from_secs(10)));
        let shared =
            Arc::new(Shared { resolver, config, current: Mutex::new(None), reconnecting: tokio::sync::Mutex::new(()) });
        let connection = SentinelConnection { shared, db };
        connection.connection().await?;
        Ok(connection)
    }

    async fn connection(&self) -> redis::RedisResult<MultiplexedConnection> {
        if let Some(connection) = self.current() {
            return Ok(connection);
        }
        let _one = self.shared.reconnecting.lock().await;
        if let Some(connection) = self.current() {
            return Ok(connection);
        }
        let client = self.shared.resolver.master().await.map_err(into_redis_error)?;
        let connection = client.get_multiplexed_async_connection_with_config(&self.shared.config).await?;
        *self.shared.current.lock().expect("sentinel connection") = Some(connection.clone());
        Ok(connection)
    }

    fn current(&self) -> Option<MultiplexedConnection> {
        self.shared.current.lock().expect("sentinel connection").clone()
    }

    /// After an error that says the server is gone or demoted, the next command asks the
    /// Sentinels again.
    fn note(&self, error: &RedisError) {
        let stale = error.is_io_error()
            || error.is_connection_dropped()
            || error.is_timeout()
            || matches!(error.kind(), ErrorKind::Server(ServerErrorKind::ReadOnly));
        if stale {
            tracing::warn!(error = %error, "Redis master unreachable or demoted; asking the Sentinels again");
            *self.shared.current.lock().expect("sentinel connection") = None;
        }
    }
}

fn into_redis_error(error: QueueError) -> RedisError {
    match error {
        QueueError::Redis(e) => e,
        other => RedisError::from((ErrorKind::Io, "sentinel", other.to_string())),
    }
}

impl ConnectionLike for SentinelConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(async move {
            let mut connection = self.connection().await?;
            let reply = connection.req_packed_command(cmd).await;
            if let Err(e) = &reply {
                self.note(e);
            }
            reply
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(async move {
            let mut connection = self.connection().await?;
            let reply = connection.req_packed_commands(cmd, offset, count).await;
            if let Err(e) = &reply {
                self.note(e);
            }
            reply
        })
    }

    fn get_db(&self) -> i64 {
        self.db
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sentinels_master_db_and_credentials() {
        let url = SentinelUrl::parse("redis+sentinel://:secret@10.0.0.1:26379,10.0.0.2:26380/jobs/2").unwrap();
        assert_eq!(url.sentinels, ["redis://10.0.0.1:26379", "redis://10.0.0.2:26380"]);
        assert_eq!((url.master.as_str(), url.db), ("jobs", 2));
        assert_eq!((url.username, url.password.as_deref()), (None, Some("secret")));
        let encoded = SentinelUrl::parse("redis+sentinel://app:a%2Fb%40c@s:1/m").unwrap();
        assert_eq!((encoded.username.as_deref(), encoded.password.as_deref()), (Some("app"), Some("a/b@c")));
        let raw_slash = SentinelUrl::parse("redis+sentinel://:ab/cd@s:1/m").unwrap();
        assert_eq!(raw_slash.password.as_deref(), Some("ab/cd"));
        let plain = SentinelUrl::parse("redis+sentinel://s:26379/mymaster").unwrap();
        assert_eq!((plain.master.as_str(), plain.db, plain.password), ("mymaster", 0, None));
    }

    #[test]
    fn refuses_what_it_cannot_use() {
        for bad in [
            "redis://a:1/m",
            "redis+sentinel://a:1",
            "redis+sentinel://a:1/",
            "redis+sentinel://a/m",
            "redis+sentinel://a:notaport/m",
            "redis+sentinel://a:1/m/x",
            "redis+sentinel://a:1/m/1/2",
            "redis+sentinel://:secret%zz@a:1/m",
        ] {
            let error = SentinelUrl::parse(bad).unwrap_err();
            assert!(matches!(error, QueueError::InvalidOption { field: "redis_url", .. }), "{bad}: {error:?}");
            assert!(!error.to_string().contains("secret"), "no credentials in {error}");
        }
    }
}
