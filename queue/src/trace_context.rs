//! W3C Trace Context carried with a job from the code that enqueued it to the worker that
//! runs it, so a trace follows the work across processes and across time.
//!
//! With the `opentelemetry` feature the engine fills it in by itself: [`Queue::enqueue`]
//! takes the context of the current `tracing` span (through `tracing-opentelemetry`)
//! when the job has none, and the worker makes it the parent of the job's `job` span.
//! Without the feature it is stored and handed to the handler as given.
//!
//! [`Queue::enqueue`]: crate::Queue::enqueue

use serde::{Deserialize, Serialize};

use crate::error::{QueueError, Result};

/// Longest `tracestate` kept: W3C asks propagators to pass on at least 512 characters.
pub const MAX_TRACESTATE_BYTES: usize = 512;

/// Where a job's trace comes from: the `traceparent` (and optional `tracestate`) of the
/// span that enqueued it, as in the W3C Trace Context headers.
///
/// ```
/// use hoist_queue::{NewJob, TraceContext};
///
/// let parent = TraceContext::new("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", None)?;
/// assert_eq!(parent.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
/// let job = NewJob::new("send", serde_json::json!({})).with_trace(parent);
/// # Ok::<(), hoist_queue::QueueError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TraceContext {
    /// `version-traceid-parentid-flags`, lowercase hex (55 characters for version 00).
    pub traceparent: String,
    /// Vendor entries, passed on unread (at most 512 bytes of printable ASCII).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracestate: Option<String>,
}

impl TraceContext {
    /// A context from its two fields; refuses a malformed `traceparent` or `tracestate`
    /// (W3C's grammar, at most 512 bytes), naming the field. An empty `tracestate` is none.
    pub fn new(traceparent: impl Into<String>, tracestate: Option<String>) -> Result<Self> {
        let context =
            TraceContext { traceparent: traceparent.into(), tracestate: tracestate.filter(|s| !s.is_empty()) };
        context.validate()?;
        Ok(context)
    }

    /// A context from what a caller sent (HTTP headers, `TRACEPARENT`/`TRACESTATE`
    /// variables): the `traceparent` must be well formed; the `tracestate` is taken as
    /// W3C tells a receiver to: dropped when malformed, and shortened to 512 bytes by
    /// leaving out entries over 128 bytes, then entries from the end.
    pub fn from_carrier(traceparent: &str, tracestate: Option<&str>) -> Result<Self> {
        let context = TraceContext {
            traceparent: traceparent.trim().to_string(),
            tracestate: tracestate.and_then(fit_tracestate),
        };
        context.validate()?;
        Ok(context)
    }

    /// The 32 hex digits of the trace.
    pub fn trace_id(&self) -> &str {
        self.traceparent.get(3..35).unwrap_or_default()
    }

    /// The 16 hex digits of the span that enqueued the job: the job span's parent.
    pub fn parent_span_id(&self) -> &str {
        self.traceparent.get(36..52).unwrap_or_default()
    }

    /// Whether the enqueuing span was sampled (flag bit 0): a worker sampling by its
    /// parent records the job's span only then.
    pub fn sampled(&self) -> bool {
        self.traceparent.get(53..55).and_then(|f| u8::from_str_radix(f, 16).ok()).is_some_and(|f| f & 1 == 1)
    }

    pub(crate) fn validate(&self) -> Result<()> {
        let invalid = |field, reason: &str| QueueError::InvalidOption { field, reason: reason.to_string() };
        if !well_formed_traceparent(&self.traceparent) {
            return Err(invalid(
                "trace.traceparent",
                "must be a W3C traceparent: 2-32-16-2 lowercase hex digits, non-zero ids, version not ff",
            ));
        }
        if let Some(state) = &self.tracestate
            && (state.len() > MAX_TRACESTATE_BYTES || tracestate_members(state).is_none())
        {
            return Err(invalid(
                "trace.tracestate",
                "must be a W3C tracestate: at most 32 key=value entries, comma-separated, in 512 bytes",
            ));
        }
        Ok(())
    }
}

/// Most entries a `tracestate` holds (W3C).
const MAX_TRACESTATE_ENTRIES: usize = 32;

/// The entries of a well-formed `tracestate` (W3C: `key=value`, comma-separated, spaces
/// around entries allowed, empty entries skipped), or `None` when any entry is malformed.
fn tracestate_members(state: &str) -> Option<Vec<&str>> {
    let key_char = |b: u8| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'*' | b'/');
    let members: Vec<&str> = state.split(',').map(|m| m.trim_matches([' ', '\t'])).filter(|m| !m.is_empty()).collect();
    let well_formed = |member: &&str| {
        let Some((key, value)) = member.split_once('=') else { return false };
        let (tenant, system) = key.split_once('@').unwrap_or((key, "a"));
        !tenant.is_empty()
            && key.len() <= 256
            && tenant.bytes().all(key_char)
            && !system.is_empty()
            && system.len() <= 14
            && system.bytes().all(key_char)
            && !value.is_empty()
            && value.len() <= 256
            && value.bytes().all(|b| (0x20..0x7f).contains(&b) && b != b',' && b != b'=')
            && !value.ends_with(' ')
    };
    (members.len() <= MAX_TRACESTATE_ENTRIES && members.iter().all(well_formed)).then_some(members)
}

/// A received `tracestate` as it may be passed on: `None` when malformed or empty; over
/// 512 bytes, without its entries over 128 bytes, then without entries from the end.
fn fit_tracestate(state: &str) -> Option<String> {
    let mut members = tracestate_members(state)?;
    let length = |members: &[&str]| members.iter().map(|m| m.len() + 1).sum::<usize>().saturating_sub(1);
    if length(&members) > MAX_TRACESTATE_BYTES {
        members.retain(|m| m.len() <= 128);
    }
    while length(&members) > MAX_TRACESTATE_BYTES {
        members.pop();
    }
    Some(members.join(",")).filter(|s| !s.is_empty())
}

/// `version-traceid-parentid-flags` as W3C defines it. A later version may append fields
/// after another `-`; version `00` has exactly these four.
fn well_formed_traceparent(value: &str) -> bool {
    let hex = |s: &str| s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    let zero = |s: &str| s.bytes().all(|b| b == b'0');
    let mut parts = value.splitn(5, '-');
    let (Some(version), Some(trace), Some(span), Some(flags)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let rest_ok = match parts.next() {
        None => true,
        Some(_) => version != "00",
    };
    version.len() == 2
        && hex(version)
        && version != "ff"
        && trace.len() == 32
        && hex(trace)
        && !zero(trace)
        && span.len() == 16
        && hex(span)
        && !zero(span)
        && flags.len() == 2
        && hex(flags)
        && rest_ok
        && value.len() <= 256
}

#[cfg(feature = "opentelemetry")]
mod opentelemetry_bridge {
    use std::str::FromStr;

    use opentelemetry::Context;
    use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
    use tracing_opentelemetry::OpenTelemetrySpanExt;

    use super::TraceContext;

    impl TraceContext {
        /// The context of the current `tracing` span, when an OpenTelemetry layer gives it
        /// one (`None` without a layer, or outside any traced span). A span the layer
        /// does not record (filtered out) gives its nearest recorded ancestor's.
        pub fn current() -> Option<TraceContext> {
            let context = tracing::Span::current().context();
            let context = if context.span().span_context().is_valid() { context } else { Context::current() };
            let span = context.span();
            let span = span.span_context();
            if !span.is_valid() {
                return None;
            }
            let flags = span.trace_flags().to_u8() & TraceFlags::SAMPLED.to_u8();
            Some(TraceContext {
                traceparent: format!("00-{:032x}-{:016x}-{flags:02x}", span.trace_id(), span.span_id()),
                // Never an enqueue refused for what a caller's header carried.
                tracestate: super::fit_tracestate(&span.trace_state().header()),
            })
        }

        /// An OpenTelemetry context whose remote parent is the span that enqueued the job;
        /// `None` for a context that does not parse (stored by hand, say).
        pub fn to_context(&self) -> Option<Context> {
            let trace = TraceId::from_hex(self.trace_id()).ok()?;
            let span = SpanId::from_hex(self.parent_span_id()).ok()?;
            let flags = u8::from_str_radix(self.traceparent.get(53..55)?, 16).ok()?;
            let state = self.tracestate.as_deref().and_then(|s| TraceState::from_str(s).ok()).unwrap_or_default();
            // Only the sampled bit has a meaning today; others are not passed on.
            let flags = TraceFlags::new(flags) & TraceFlags::SAMPLED;
            let parent = SpanContext::new(trace, span, flags, true, state);
            parent.is_valid().then(|| Context::new().with_remote_span_context(parent))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn a_w3c_traceparent_is_accepted_and_split() {
        let context = TraceContext::new(PARENT, Some("vendor=abc".into())).unwrap();
        assert_eq!(context.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(context.parent_span_id(), "00f067aa0ba902b7");
        // A later version may carry more fields.
        TraceContext::new(format!("01{}-extra", &PARENT[2..]), None).unwrap();
    }

    #[test]
    fn a_malformed_context_is_refused_naming_the_field() {
        let bad_parents = [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01",
        ];
        for parent in bad_parents {
            let error = TraceContext::new(parent, None).unwrap_err();
            assert!(matches!(error, QueueError::InvalidOption { field: "trace.traceparent", .. }), "{parent:?}");
        }
        let too_many = (0..33).map(|i| format!("k{i}=v")).collect::<Vec<_>>().join(",");
        for state in [
            format!("a={}", "b".repeat(511)),
            "k=v\n".into(),
            "k=é".into(),
            "Key=v".into(),
            "k=".into(),
            "k=v,=x".into(),
            "k=a=b".into(),
            too_many,
        ] {
            let error = TraceContext::new(PARENT, Some(state.clone())).unwrap_err();
            assert!(matches!(error, QueueError::InvalidOption { field: "trace.tracestate", .. }), "{state:?}");
        }
        for state in ["congo=t61rcWkgMzE", "rojo=00f067aa0ba902b7, congo=t61rcWkgMzE", "tenant@vendor=x,,a-b_c*d/e=1 2"]
        {
            TraceContext::new(PARENT, Some(state.into())).unwrap();
        }
        assert_eq!(TraceContext::new(PARENT, Some(String::new())).unwrap().tracestate, None);
    }

    /// What a caller sends is taken as W3C tells a receiver: a bad traceparent refused, a
    /// bad tracestate dropped, a long one shortened, long entries first.
    #[test]
    fn a_received_context_is_checked_and_its_state_fitted() {
        assert!(TraceContext::from_carrier("00-1-1-01", None).is_err());
        let padded = TraceContext::from_carrier(&format!(" {PARENT} "), Some("Bad Key=1")).unwrap();
        assert_eq!((padded.traceparent.as_str(), padded.tracestate), (PARENT, None));
        let long_entry = format!("big={}", "x".repeat(200));
        let small: Vec<String> = (0..30).map(|i| format!("k{i:02}={}", "v".repeat(20))).collect();
        let received = format!("a=1,{long_entry},{}", small.join(","));
        assert!(received.len() > 512);
        let fitted = TraceContext::from_carrier(PARENT, Some(&received)).unwrap().tracestate.unwrap();
        assert!(fitted.len() <= 512 && fitted.starts_with("a=1,k00="), "{fitted}");
        assert!(!fitted.contains("big="), "entries over 128 bytes go first");
        assert!(!fitted.contains("k29="), "then entries from the end");
        assert!(TraceContext::new(PARENT, Some(fitted)).is_ok());
        assert!(TraceContext::new(PARENT, None).unwrap().sampled());
        assert!(!TraceContext::new(PARENT.replace("-01", "-00"), None).unwrap().sampled());
    }

    #[cfg(feature = "opentelemetry")]
    #[test]
    fn a_context_becomes_the_remote_parent_it_names() {
        use opentelemetry::trace::TraceContextExt;

        let context = TraceContext::new(PARENT, Some("vendor=abc".into())).unwrap().to_context().unwrap();
        let span = context.span();
        let parent = span.span_context();
        assert!(parent.is_remote() && parent.is_sampled());
        assert_eq!(format!("{:032x}", parent.trace_id()), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(format!("{:016x}", parent.span_id()), "00f067aa0ba902b7");
        assert_eq!(parent.trace_state().get("vendor"), Some("abc"));
        // Unknown flag bits are not passed on.
        let flags = TraceContext::new(PARENT.replace("-01", "-03"), None).unwrap().to_context().unwrap();
        assert_eq!(flags.span().span_context().trace_flags(), opentelemetry::trace::TraceFlags::SAMPLED);
        // Outside any traced span there is nothing to carry.
        assert_eq!(TraceContext::current(), None);
    }
}
