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
    /// A context from its two headers; refuses a malformed `traceparent` or an oversized
    /// `tracestate`, naming the field.
    pub fn new(traceparent: impl Into<String>, tracestate: Option<String>) -> Result<Self> {
        let context = TraceContext { traceparent: traceparent.into(), tracestate };
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

    pub(crate) fn validate(&self) -> Result<()> {
        let invalid = |field, reason: &str| QueueError::InvalidOption { field, reason: reason.to_string() };
        if !well_formed_traceparent(&self.traceparent) {
            return Err(invalid(
                "trace.traceparent",
                "must be a W3C traceparent: 2-32-16-2 lowercase hex digits, non-zero ids, version not ff",
            ));
        }
        if let Some(state) = &self.tracestate
            && (state.len() > MAX_TRACESTATE_BYTES || !state.bytes().all(|b| (0x20..0x7f).contains(&b)))
        {
            return Err(invalid("trace.tracestate", "must be at most 512 bytes of printable ASCII"));
        }
        Ok(())
    }
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
        /// one (`None` without a layer, or outside any traced span).
        pub fn current() -> Option<TraceContext> {
            let context = tracing::Span::current().context();
            let span = context.span();
            let span = span.span_context();
            if !span.is_valid() {
                return None;
            }
            let flags = span.trace_flags().to_u8() & TraceFlags::SAMPLED.to_u8();
            let state = span.trace_state().header();
            Some(TraceContext {
                traceparent: format!("00-{:032x}-{:016x}-{flags:02x}", span.trace_id(), span.span_id()),
                tracestate: Some(state).filter(|s| !s.is_empty()),
            })
        }

        /// An OpenTelemetry context whose remote parent is the span that enqueued the job;
        /// `None` for a context that does not parse (stored by hand, say).
        pub fn to_context(&self) -> Option<Context> {
            let trace = TraceId::from_hex(self.trace_id()).ok()?;
            let span = SpanId::from_hex(self.parent_span_id()).ok()?;
            let flags = u8::from_str_radix(self.traceparent.get(53..55)?, 16).ok()?;
            let state = self.tracestate.as_deref().and_then(|s| TraceState::from_str(s).ok()).unwrap_or_default();
            let parent = SpanContext::new(trace, span, TraceFlags::new(flags), true, state);
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
        for state in ["a".repeat(513), "k=v\n".into(), "k=é".into()] {
            let error = TraceContext::new(PARENT, Some(state)).unwrap_err();
            assert!(matches!(error, QueueError::InvalidOption { field: "trace.tracestate", .. }));
        }
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
        // Outside any traced span there is nothing to carry.
        assert_eq!(TraceContext::current(), None);
    }
}
