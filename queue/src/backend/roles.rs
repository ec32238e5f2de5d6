//! Storage of roles: one string per role holding its holder's id, expiring on its own.

use std::time::Duration;

use super::keys::role_holder;
use super::{eval_traced, scripts};
use crate::connection::RedisConnection;
use crate::error::Result;

#[derive(Clone)]
pub(crate) struct RoleStore {
    redis: RedisConnection,
    key: String,
    name: String,
}

impl RoleStore {
    pub(crate) fn new(redis: &RedisConnection, root: &str, name: &str) -> Self {
        RoleStore { redis: redis.clone(), key: role_holder(root, name), name: name.to_string() }
    }

    pub(crate) async fn claim(&self, holder: &str, ttl: Duration) -> Result<bool> {
        let mut call = scripts::HOLD_ROLE.prepare_invoke();
        call.key(&self.key).arg(holder).arg(ttl.as_millis() as u64);
        let held: i64 = eval_traced("hold_role", &self.name, &self.redis, &call).await?;
        Ok(held == 1)
    }

    pub(crate) async fn release(&self, holder: &str) -> Result<()> {
        let mut call = scripts::RELEASE_ROLE.prepare_invoke();
        call.key(&self.key).arg(holder);
        let _: i64 = eval_traced("release_role", &self.name, &self.redis, &call).await?;
        Ok(())
    }
}
