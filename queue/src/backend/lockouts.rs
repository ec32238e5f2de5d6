//! Storage of lockouts: a fixed-window counter per subject, all of one lockout in one hash
//! slot.

use std::time::Duration;

use super::keys::lockout_counter;
use super::{eval_traced, scripts};
use crate::connection::RedisConnection;
use crate::error::Result;

#[derive(Clone)]
pub(crate) struct LockoutStore {
    redis: RedisConnection,
    root: String,
    name: String,
}

impl LockoutStore {
    pub(crate) fn new(redis: &RedisConnection, root: &str, name: &str) -> Self {
        LockoutStore { redis: redis.clone(), root: root.to_string(), name: name.to_string() }
    }

    /// Counts an attempt against every subject (with its allowance) unless one is used
    /// up; `Some(wait)` when refused.
    pub(crate) async fn take(&self, subjects: &[(&str, u32)], window: Duration) -> Result<Option<(Duration, usize)>> {
        let mut call = scripts::TAKE_ATTEMPT.prepare_invoke();
        call.arg(window.as_millis() as u64);
        for (subject, max) in subjects {
            call.key(lockout_counter(&self.root, &self.name, subject)).arg(*max);
        }
        // Empty when counted; else the refusing counter's wait (ms) and index (1-based).
        let answer: Vec<i64> = eval_traced("take_attempt", &self.name, &self.redis, &call).await?;
        Ok(match answer[..] {
            [ms, index] => Some((Duration::from_millis(ms.max(1) as u64), (index.max(1) - 1) as usize)),
            _ => None,
        })
    }

    /// Gives an attempt back: each subject's counter cleared (`true`) or one lower.
    pub(crate) async fn give_back(&self, subjects: &[(&str, bool)]) -> Result<()> {
        let mut call = scripts::GIVE_BACK_ATTEMPT.prepare_invoke();
        for (subject, clear) in subjects {
            call.key(lockout_counter(&self.root, &self.name, subject)).arg(if *clear { "clear" } else { "one" });
        }
        let _: i64 = eval_traced("give_back_attempt", &self.name, &self.redis, &call).await?;
        Ok(())
    }
}
