//! Trace export over OTLP/HTTP (protobuf), configured by the standard OpenTelemetry
//! variables: on when `OTEL_EXPORTER_OTLP_ENDPOINT` (or `…_TRACES_ENDPOINT`) is set,
//! named by `OTEL_SERVICE_NAME` (default `hoist`), sampled by `OTEL_TRACES_SAMPLER`,
//! batched by `OTEL_BSP_*`, with `OTEL_EXPORTER_OTLP_HEADERS`, `…_TIMEOUT` and
//! `…_COMPRESSION=gzip`. The settings this build cannot honour, and malformed values of
//! those it reads, stop start-up naming the variable ([`check_settings`]): the library
//! would otherwise fall back to a default with a warning nobody sees.
//!
//! The exporter sends with the server's own HTTP client (reqwest, rustls) on the server's
//! runtime, rather than a second HTTP stack of its own.

use std::time::Duration;

use anyhow::{Context, bail};
use opentelemetry::{Key, KeyValue};
use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;

/// An OTLP collector's answer larger than this is refused (it is a short status).
const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;

/// Whether the environment asks for trace export: an endpoint is set and neither
/// `OTEL_SDK_DISABLED=true` nor `OTEL_TRACES_EXPORTER=none` turns it off.
pub fn configured() -> anyhow::Result<bool> {
    if var("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        return Ok(false);
    }
    match var("OTEL_TRACES_EXPORTER").as_deref() {
        None | Some("otlp") => {}
        Some("none") => return Ok(false),
        Some(other) => bail!("OTEL_TRACES_EXPORTER: {other:?} is not built in; use otlp or none"),
    }
    Ok(var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").or_else(|| var("OTEL_EXPORTER_OTLP_ENDPOINT")).is_some())
}

/// The exporter and its batching, as configured.
pub struct TraceExport {
    /// Batches spans and exports them; `shutdown` flushes it.
    pub provider: SdkTracerProvider,
    /// How long one export may take.
    pub timeout: Duration,
}

/// Builds the tracer provider from the environment, after [`check_settings`].
pub fn trace_export(runtime: tokio::runtime::Handle) -> anyhow::Result<TraceExport> {
    check_settings()?;
    let timeout = export_timeout()?;
    let client = reqwest::Client::builder()
        .timeout(timeout)
        // A redirect would take the headers (API keys) to another host.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .context("the OTLP HTTP client")?;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
        .with_http_client(ExportClient { client, runtime })
        .build()
        .map_err(|e| anyhow::anyhow!("{}: {e}", endpoint_variable()))?;
    Ok(TraceExport {
        provider: SdkTracerProvider::builder().with_batch_exporter(exporter).with_resource(resource()).build(),
        timeout,
    })
}

/// The process as traces name it: `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES`, over
/// Hoist's defaults (`service.name` hoist, `service.version`, `service.instance.id` the
/// engine's process id, as worker ids show it).
fn resource() -> Resource {
    let detected = Resource::builder().build();
    let named = var("OTEL_SERVICE_NAME").is_some()
        || var("OTEL_RESOURCE_ATTRIBUTES")
            .is_some_and(|a| a.split(',').any(|kv| kv.trim().starts_with("service.name=")));
    let mut resource = Resource::builder();
    if !named {
        resource = resource.with_service_name("hoist");
    }
    let defaults = [
        ("service.version", env!("CARGO_PKG_VERSION").to_string()),
        ("service.instance.id", hoist_queue::process_id().to_string()),
    ];
    for (key, value) in defaults {
        if detected.get(&Key::from_static_str(key)).is_none() {
            resource = resource.with_attribute(KeyValue::new(key, value));
        }
    }
    resource.build()
}

/// Refuses, naming the variable, what the library would ignore or replace by a default:
/// another protocol, TLS files (the system's CAs are trusted), propagators other than
/// W3C's, unknown samplers and compressions, and malformed numbers and headers.
pub fn check_settings() -> anyhow::Result<()> {
    for variable in ["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"] {
        if let Some(protocol) = var(variable) {
            if protocol != "http/protobuf" {
                bail!("{variable}: {protocol:?} is not built in; use http/protobuf (the OTLP/HTTP port, 4318)");
            }
            break;
        }
    }
    for file in ["CERTIFICATE", "CLIENT_CERTIFICATE", "CLIENT_KEY", "INSECURE"] {
        for variable in [format!("OTEL_EXPORTER_OTLP_TRACES_{file}"), format!("OTEL_EXPORTER_OTLP_{file}")] {
            if var(&variable).is_some() {
                bail!("{variable}: not supported; the collector's certificate is checked against the system's CAs");
            }
        }
    }
    if let Some(propagators) = var("OTEL_PROPAGATORS")
        && !propagators.split(',').all(|p| matches!(p.trim(), "tracecontext" | "baggage"))
    {
        bail!("OTEL_PROPAGATORS: {propagators:?}: only W3C trace context (tracecontext) is carried");
    }
    const SAMPLERS: [&str; 6] = [
        "always_on",
        "always_off",
        "traceidratio",
        "parentbased_always_on",
        "parentbased_always_off",
        "parentbased_traceidratio",
    ];
    if let Some(sampler) = var("OTEL_TRACES_SAMPLER") {
        if !SAMPLERS.contains(&sampler.as_str()) {
            bail!("OTEL_TRACES_SAMPLER: {sampler:?} is not one of {}", SAMPLERS.join(", "));
        }
        if sampler.ends_with("traceidratio")
            && let Some(ratio) = var("OTEL_TRACES_SAMPLER_ARG")
            && !ratio.trim().parse::<f64>().is_ok_and(|r| (0.0..=1.0).contains(&r))
        {
            bail!("OTEL_TRACES_SAMPLER_ARG: {ratio:?} is not a ratio between 0 and 1");
        }
    }
    for variable in ["OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "OTEL_EXPORTER_OTLP_COMPRESSION"] {
        if let Some(compression) = var(variable)
            && compression != "gzip"
        {
            bail!("{variable}: {compression:?} is not built in; use gzip, or leave it unset");
        }
    }
    let batching = [
        ("OTEL_BSP_SCHEDULE_DELAY", 10, 3_600_000),
        ("OTEL_BSP_MAX_QUEUE_SIZE", 1, 1_000_000),
        ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 1, 1_000_000),
    ];
    for (variable, min, max) in batching {
        if let Some(value) = var(variable)
            && !value.trim().parse::<u64>().is_ok_and(|n| (min..=max).contains(&n))
        {
            bail!("{variable}: {value:?} is not a whole number between {min} and {max}");
        }
    }
    for variable in ["OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_EXPORTER_OTLP_HEADERS"] {
        if let Some(headers) = var(variable)
            && let Some(bad) = headers.split(',').find(|h| h.split_once('=').is_none_or(|(k, _)| k.trim().is_empty()))
        {
            bail!("{variable}: {bad:?} is not key=value");
        }
    }
    Ok(())
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn endpoint_variable() -> &'static str {
    if var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").is_some() {
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
    } else {
        "OTEL_EXPORTER_OTLP_ENDPOINT"
    }
}

/// `OTEL_EXPORTER_OTLP_TRACES_TIMEOUT` or `OTEL_EXPORTER_OTLP_TIMEOUT`, in ms (default 10 s):
/// how long one export may take, connection included.
fn export_timeout() -> anyhow::Result<Duration> {
    for variable in ["OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT"] {
        if let Some(value) = var(variable) {
            let ms: u64 = value
                .trim()
                .parse()
                .ok()
                .filter(|ms| (1..=600_000).contains(ms))
                .with_context(|| format!("{variable}: {value:?} is not milliseconds between 1 and 600000"))?;
            return Ok(Duration::from_millis(ms));
        }
    }
    Ok(Duration::from_secs(10))
}

/// The exporter's HTTP client. The SDK exports from a thread of its own, outside any
/// async runtime, so each request runs as a task on the server's runtime and the
/// exporter waits for its answer.
#[derive(Debug)]
struct ExportClient {
    client: reqwest::Client,
    runtime: tokio::runtime::Handle,
}

#[async_trait::async_trait]
impl HttpClient for ExportClient {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let request = reqwest::Request::try_from(request)?;
        let client = self.client.clone();
        // Telemetry suppressed: the export's own work must not be traced and exported.
        let suppressed = opentelemetry::Context::current().with_telemetry_suppressed();
        let sent = self.runtime.spawn(opentelemetry::context::FutureExt::with_context(
            async move {
                let response = client.execute(request).await?;
                let mut answer = Response::builder().status(response.status().as_u16());
                for (name, value) in response.headers() {
                    answer = answer.header(name.as_str(), value.as_bytes());
                }
                let mut response = response;
                let mut body = Vec::new();
                while let Some(chunk) = response.chunk().await? {
                    if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                        return Err(Box::new(opentelemetry_http::ResponseBodyTooLarge::new()) as HttpError);
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok::<_, HttpError>(answer.body(Bytes::from(body))?)
            },
            suppressed,
        ));
        sent.await?
    }
}
