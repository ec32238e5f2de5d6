//! Measuring other processes and samples: resident memory and CPU time from /proc
//! (Linux), and percentiles.

/// Resident memory of a process in bytes.
pub fn rss_bytes(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .ok_or_else(|| anyhow::anyhow!("no VmRSS for {pid}"))?;
    Ok(kb.parse::<u64>()? * 1024)
}

/// CPU time (user + system) of a process, in seconds.
pub fn cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name (which may hold spaces) start at state (field 3);
    // utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let (Some(user), Some(system)) = (fields.get(11), fields.get(12)) else {
        anyhow::bail!("unreadable /proc/{pid}/stat");
    };
    // Clock ticks are 100 a second on Linux (USER_HZ).
    Ok((user.parse::<f64>()? + system.parse::<f64>()?) / 100.0)
}

pub fn mib(bytes: u64) -> f64 {
    (bytes as f64 / 1048576.0 * 10.0).round() / 10.0
}

/// The `p` quantile (0 to 1) of `values` (sorted here), or None when there are none.
pub fn percentile<T: Copy + Ord>(values: &mut [T], p: f64) -> Option<T> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    Some(values[((values.len() - 1) as f64 * p).round() as usize])
}
