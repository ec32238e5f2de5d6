//! Errors that stop the server from starting: each names the setting at fault.

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("{variable}: {reason}")]
    Invalid { variable: &'static str, reason: String },
    /// A setting whose variable is named after something (a queue).
    #[error("{variable}: {reason}")]
    InvalidSetting { variable: String, reason: String },
    #[error("{variable}: cannot connect to {target}: {reason}")]
    Unreachable { variable: &'static str, target: String, reason: String },
    /// `hoist.toml` (`HOIST_CONFIG`): its name, line, field and what is wrong.
    #[error("{0}")]
    Config(String),
}
