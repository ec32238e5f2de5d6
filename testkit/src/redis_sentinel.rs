//! A Redis master, one replica and three Sentinels on loopback ports — the smallest
//! deployment Sentinel can fail over — with a way to force a failover.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::RedisServer;
use crate::redis_server::{cli_on, command_on, free_port};

/// The master group's name the Sentinels monitor.
pub const SENTINEL_MASTER_NAME: &str = "hoist";

/// A master and a replica ([`RedisServer`]s) watched by three Sentinels (`redis-server
/// --sentinel`). The master refuses writes while no replica is in sync
/// (`min-replicas-to-write 1`), so writes a failover would lose are refused instead.
/// Dropping it kills every process and removes the directories.
pub struct RedisSentinel {
    servers: Vec<RedisServer>,
    sentinel_ports: Vec<u16>,
    sentinels: Vec<Child>,
    _dir: tempfile::TempDir,
}

impl RedisSentinel {
    pub fn start() -> Self {
        let master = RedisServer::start();
        let replica = RedisServer::start();
        let master_port = master.port().to_string();
        for server in [&master, &replica] {
            for setting in [["min-replicas-to-write", "1"], ["min-replicas-max-lag", "5"]] {
                server.command(&["CONFIG", "SET", setting[0], setting[1]]).expect("configure");
            }
        }
        replica.command(&["REPLICAOF", "127.0.0.1", &master_port]).expect("REPLICAOF");
        wait_for("the replica to sync", || {
            cli_on(replica.port(), &["INFO", "replication"]).is_ok_and(|info| info.contains("master_link_status:up"))
        });
        let dir = tempfile::Builder::new().prefix("hoist-sentinel-").tempdir().expect("temp dir");
        let mut sentinel =
            RedisSentinel { servers: vec![master, replica], sentinel_ports: vec![], sentinels: vec![], _dir: dir };
        for i in 0..3 {
            let port = free_port();
            let config = sentinel._dir.path().join(format!("sentinel-{i}.conf"));
            std::fs::write(
                &config,
                format!(
                    "port {port}\nbind 127.0.0.1\ndir {dir}\n\
                     sentinel monitor {SENTINEL_MASTER_NAME} 127.0.0.1 {master_port} 2\n\
                     sentinel down-after-milliseconds {SENTINEL_MASTER_NAME} 2000\n\
                     sentinel failover-timeout {SENTINEL_MASTER_NAME} 10000\n",
                    dir = sentinel._dir.path().display()
                ),
            )
            .expect("sentinel config");
            let child = Command::new("redis-server")
                .arg(&config)
                .arg("--sentinel")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn redis-server --sentinel");
            sentinel.sentinels.push(child);
            sentinel.sentinel_ports.push(port);
        }
        // Every Sentinel answers, knows the master and its replica, and the others.
        let replica_port = sentinel.servers[1].port().to_string();
        for port in sentinel.sentinel_ports.clone() {
            wait_for("a Sentinel to know the replica and the other Sentinels", || {
                let replicas = cli_on(port, &["SENTINEL", "REPLICAS", SENTINEL_MASTER_NAME]).unwrap_or_default();
                let others = cli_on(port, &["SENTINEL", "SENTINELS", SENTINEL_MASTER_NAME]).unwrap_or_default();
                replicas.contains(&replica_port) && others.matches("runid").count() >= 2
            });
        }
        sentinel
    }

    /// `redis+sentinel://127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3/hoist`.
    pub fn url(&self) -> String {
        let hosts: Vec<String> = self.sentinel_ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
        format!("redis+sentinel://{}/{SENTINEL_MASTER_NAME}", hosts.join(","))
    }

    /// The port of the server the Sentinels call master now.
    pub fn master_port(&self) -> u16 {
        let reply = cli_on(self.sentinel_ports[0], &["SENTINEL", "GET-MASTER-ADDR-BY-NAME", SENTINEL_MASTER_NAME])
            .unwrap_or_default();
        reply.lines().nth(1).and_then(|p| p.trim().parse().ok()).unwrap_or(0)
    }

    /// `SENTINEL FAILOVER`, then waits until the other server is master and the old one
    /// follows it.
    pub fn failover(&self) {
        let before = self.master_port();
        let reply = command_on(self.sentinel_ports[0], &["SENTINEL", "FAILOVER", SENTINEL_MASTER_NAME])
            .expect("SENTINEL FAILOVER");
        assert!(reply.starts_with("+OK"), "SENTINEL FAILOVER: {reply}");
        wait_for("the Sentinels to name the new master", || {
            let now = self.master_port();
            now != 0 && now != before
        });
        wait_for("the old master to follow the new one", || {
            cli_on(before, &["INFO", "replication"]).is_ok_and(|info| info.contains("role:slave"))
        });
    }
}

impl Drop for RedisSentinel {
    fn drop(&mut self) {
        for child in &mut self.sentinels {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn wait_for(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fails_over_to_the_replica() {
        let sentinel = RedisSentinel::start();
        let before = sentinel.master_port();
        sentinel.failover();
        assert_ne!(sentinel.master_port(), before);
        assert!(sentinel.url().starts_with("redis+sentinel://127.0.0.1:"));
    }
}
