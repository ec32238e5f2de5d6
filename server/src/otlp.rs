//! Trace export over OTLP/HTTP (protobuf), configured by the standard OpenTelemetry
//! variables: on when `OTEL_EXPORTER_OTLP_ENDPOINT` (or `…_TRACES_ENDPOINT`) is set,
//! named by `OTEL_SERVICE_NAME` (default `hoist`), sampled by `OTEL_TRACES_SAMPLER`,
//! batched by `OTEL_BSP_*`, with `OTEL_EXPORTER_OTLP_HEADERS`, `…_TIMEOUT` and
//! `…_COMPRESSION=gzip`. A setting this build cannot honour stops start-up naming it.
//!
//! The exporter sends with the server's own HTTP client (reqwest, rustls) on the server's
//! runtime, rather than a second HTTP stack of its own.

use std::time::Duration;

use anyhow::{Context, bail};
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

/// The tracer provider that batches spans and exports them; `shutdown` flushes it.
pub fn tracer_provider(runtime: tokio::runtime::Handle) -> anyhow::Result<SdkTracerProvider> {
    for variable in ["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"] {
        if let Some(protocol) = var(variable) {
            if protocol != "http/protobuf" {
                bail!("{variable}: {protocol:?} is not built in; use http/protobuf (the OTLP/HTTP port, 4318)");
            }
            break;
        }
    }
    let timeout = export_timeout()?;
    let client = reqwest::Client::builder().timeout(timeout).build().context("the OTLP HTTP client")?;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
        .with_http_client(ExportClient { client, runtime })
        .build()
        .map_err(|e| anyhow::anyhow!("{}: {e}", endpoint_variable()))?;
    let mut resource = Resource::builder()
        .with_attribute(opentelemetry::KeyValue::new("service.instance.id", hoist_queue::process_id().to_string()));
    let named = var("OTEL_SERVICE_NAME").is_some()
        || var("OTEL_RESOURCE_ATTRIBUTES")
            .is_some_and(|a| a.split(',').any(|kv| kv.trim().starts_with("service.name=")));
    if !named {
        resource = resource.with_service_name("hoist");
    }
    resource = resource.with_attribute(opentelemetry::KeyValue::new("service.version", env!("CARGO_PKG_VERSION")));
    Ok(SdkTracerProvider::builder().with_batch_exporter(exporter).with_resource(resource.build()).build())
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
        let sent = self.runtime.spawn(async move {
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
        });
        sent.await?
    }
}
