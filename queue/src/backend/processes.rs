//! Storage of the process registry: each process's last check-in (a sorted set), what it
//! reported (a JSON string that expires when the process is forgotten) and the command
//! sent to it, under one hash tag.

use std::time::Duration;

use futures::{Stream, StreamExt};

use super::keys::ProcessKeys;
use super::{eval_traced, scripts};
use crate::connection::RedisConnection;
use crate::error::Result;

#[derive(Clone)]
pub(crate) struct ProcessStore {
    redis: RedisConnection,
    keys: ProcessKeys,
}

/// One registered process as stored: id, last check-in (Redis ms), reported JSON.
pub(crate) type StoredProcess = (String, i64, String);

impl ProcessStore {
    pub(crate) fn new(redis: &RedisConnection) -> Self {
        ProcessStore { redis: redis.clone(), keys: ProcessKeys::new(redis.key_prefix()) }
    }

    /// Checks in with `info`; returns Redis's time and the command waiting for this
    /// process, if any. `fresh` (the first and last check-in of a run) drops a command
    /// left for an earlier run under the same id.
    pub(crate) async fn record(
        &self,
        id: &str,
        info: &str,
        forget_after: Duration,
        fresh: bool,
    ) -> Result<(i64, Option<String>)> {
        let mut call = scripts::RECORD_PROCESS.prepare_invoke();
        call.key(self.keys.registry()).key(self.keys.info(id)).key(self.keys.command(id));
        call.arg(id).arg(info).arg(forget_after.as_millis() as u64).arg(if fresh { "1" } else { "0" });
        let (now, command): (i64, String) = eval_traced("record_process", id, &self.redis, &call).await?;
        Ok((now, Some(command).filter(|c| !c.is_empty())))
    }

    /// Redis's time and every registered process.
    pub(crate) async fn read_all(&self) -> Result<(i64, Vec<StoredProcess>)> {
        let mut call = scripts::READ_PROCESSES.prepare_invoke();
        call.key(self.keys.registry()).arg(self.keys.info_prefix());
        let reply: Vec<redis::Value> = eval_traced("read_processes", "processes", &self.redis, &call).await?;
        let mut items = reply.into_iter();
        let now = items.next().as_ref().and_then(super::int).unwrap_or_default();
        let mut processes = vec![];
        while let (Some(id), Some(seen), Some(info)) = (items.next(), items.next(), items.next()) {
            let (Some(id), Some(seen), Some(info)) = (super::text(&id), super::int(&seen), super::text(&info)) else {
                continue;
            };
            processes.push((id, seen, info));
        }
        Ok((now, processes))
    }

    /// Sends `command` to process `id`; false when no such process is registered.
    pub(crate) async fn signal(&self, id: &str, command: &str, keep_for: Duration) -> Result<bool> {
        let mut call = scripts::SIGNAL_PROCESS.prepare_invoke();
        call.key(self.keys.registry()).key(self.keys.command(id));
        call.arg(id).arg(command).arg(self.keys.channel()).arg(keep_for.as_millis() as u64);
        let sent: i64 = eval_traced("signal_process", id, &self.redis, &call).await?;
        Ok(sent == 1)
    }

    /// Commands as they are sent, as `(process id, command)` (Pub/Sub; the stream ends when
    /// the connection does).
    pub(crate) async fn commands(&self) -> Result<impl Stream<Item = (String, String)> + use<>> {
        let mut pubsub = self.redis.pubsub_client().await?.get_async_pubsub().await?;
        pubsub.subscribe(self.keys.channel()).await?;
        Ok(pubsub.into_on_message().filter_map(|message| async move {
            let payload = message.get_payload::<String>().ok()?;
            let (id, command) = payload.split_once(' ')?;
            Some((id.to_string(), command.to_string()))
        }))
    }
}
