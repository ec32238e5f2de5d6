use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A 3-master Redis Cluster (no replicas) on free loopback ports, each node in its own
/// temp dir. Dropping it kills the nodes and removes the dirs.
pub struct RedisCluster {
    ports: Vec<u16>,
    nodes: Vec<Child>,
    _dirs: Vec<tempfile::TempDir>,
}

impl RedisCluster {
    pub fn start() -> Self {
        let mut last = String::new();
        for _ in 0..5 {
            match Self::try_start() {
                Ok(cluster) => return cluster,
                Err(e) => last = e,
            }
        }
        panic!("could not start a redis cluster: {last}");
    }

    fn try_start() -> Result<Self, String> {
        let ports = free_ports(3);
        let mut cluster = RedisCluster { ports: ports.clone(), nodes: vec![], _dirs: vec![] };
        for port in &ports {
            let dir = tempfile::Builder::new().prefix("hoist-cluster-").tempdir().map_err(|e| e.to_string())?;
            let child = Command::new("redis-server")
                .args([
                    "--port",
                    &port.to_string(),
                    "--bind",
                    "127.0.0.1",
                    "--dir",
                    &dir.path().display().to_string(),
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "nodes.conf",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| format!("spawn redis-server: {e}"))?;
            cluster.nodes.push(child);
            cluster._dirs.push(dir);
        }
        for port in &ports {
            wait_for(|| crate::redis_server::command_on(*port, &["PING"]).is_ok_and(|r| r.starts_with("+PONG")))
                .map_err(|e| format!("node {port} ping: {e}"))?;
        }
        let addresses: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
        let output = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(&addresses)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("redis-cli --cluster create: {e}"))?;
        let said = String::from_utf8_lossy(&output.stdout).into_owned();
        if !output.status.success() || !said.contains("All 16384 slots covered") {
            return Err(format!("redis-cli --cluster create failed: {said}"));
        }
        for port in &ports {
            wait_for(|| {
                crate::redis_server::cli_on(*port, &["cluster", "info"])
                    .is_ok_and(|info| info.contains("cluster_state:ok"))
            })
            .map_err(|e| {
                format!(
                    "node {port} cluster state: {e}: {:?}",
                    crate::redis_server::cli_on(*port, &["cluster", "info"])
                )
            })?;
        }
        Ok(cluster)
    }

    /// All node URLs joined by commas, the form Hoist reads as "cluster".
    pub fn url(&self) -> String {
        self.ports.iter().map(|p| format!("redis://127.0.0.1:{p}")).collect::<Vec<_>>().join(",")
    }

    pub fn ports(&self) -> &[u16] {
        &self.ports
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            let _ = node.kill();
            let _ = node.wait();
        }
    }
}

fn free_ports(n: usize) -> Vec<u16> {
    // Cluster nodes also bind port + 10000 for their bus; keep ports below 55535.
    let mut ports = vec![];
    while ports.len() < n {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        if port < 55_000 && TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok() && !ports.contains(&port) {
            ports.push(port);
        }
    }
    ports
}

fn wait_for(mut check: impl FnMut() -> bool) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if check() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err("timed out".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_masters_cover_every_slot() {
        let cluster = RedisCluster::try_start().map_err(|e| e.to_string()).unwrap();
        assert_eq!(cluster.ports().len(), 3);
        let info = crate::redis_server::cli_on(cluster.ports()[0], &["cluster", "info"]).unwrap();
        assert!(info.contains("cluster_known_nodes:3"), "{info}");
    }
}
