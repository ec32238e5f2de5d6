//! Plain data the pages show, shared by the server (which fills them) and the browser.

use serde::{Deserialize, Serialize};

/// Whether one dependency of the server answers, as shown on the status page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentStatus {
    pub name: String,
    pub up: bool,
    /// Version or backend ("redis 7.0.15", "sqlite"), or the error when down.
    pub detail: String,
}

/// What `/healthz` reports and the home page shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemStatus {
    pub version: String,
    pub components: Vec<ComponentStatus>,
}

impl SystemStatus {
    pub fn healthy(&self) -> bool {
        self.components.iter().all(|c| c.up)
    }
}

/// The signed-in user, as the layout shows them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Viewer {
    pub username: String,
    /// admin, operator, viewer or user.
    pub role: String,
}

/// One queue on the overview.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueCard {
    pub name: String,
    pub waiting: u64,
    pub delayed: u64,
    pub retrying: u64,
    pub active: u64,
    pub completed: u64,
    pub dead: u64,
    pub cancelled: u64,
    pub paused: bool,
    pub warnings: Vec<String>,
    pub workers: u64,
}

/// A queue's counts as the live feed pushes them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct QueueCounts {
    pub waiting: u64,
    pub delayed: u64,
    pub retrying: u64,
    pub active: u64,
    pub completed: u64,
    pub dead: u64,
    pub cancelled: u64,
    pub paused: bool,
}

impl QueueCounts {
    /// The count of one state by name (`waiting`, `active`, ...).
    pub fn get(&self, state: &str) -> Option<u64> {
        Some(match state {
            "waiting" => self.waiting,
            "delayed" => self.delayed,
            "retrying" => self.retrying,
            "active" => self.active,
            "completed" => self.completed,
            "dead" => self.dead,
            "cancelled" => self.cancelled,
            _ => return None,
        })
    }
}
