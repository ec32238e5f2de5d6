//! The HTTP transport's limits: how connections are accepted and served
//! (`HOIST_MAX_CONNECTIONS`, `HOIST_HEADER_READ_TIMEOUT`, graceful stop) and how large a
//! request body may be on every route (`HOIST_MAX_BODY_BYTES`).
//!
//! `axum::serve` takes no limits, so this is its accept loop with them: a connection
//! holds one of `max_connections` permits for as long as its socket is open (a WebSocket
//! too, after the upgrade), and past the cap the listener stops accepting, so further
//! clients wait in the kernel's backlog instead of costing a task and buffers each.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, watch};
use tower::ServiceExt;

use crate::api_error::ApiError;

/// Limits of the accept loop.
#[derive(Clone, Copy, Debug)]
pub struct ServeLimits {
    /// A client must have sent a request's headers within this (and an idle keep-alive
    /// connection is closed after it).
    pub header_read_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
}

/// Serves `router` on `listener` until `shutdown` resolves, then stops accepting and waits
/// for the requests in flight to finish (idle connections close at once).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ServeLimits,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    // Dropping `signal_tx` tells every connection to finish; each holds a `close_rx`
    // until it is done, so `close_tx.closed()` waits for all of them.
    let (signal_tx, signal_rx) = watch::channel(());
    let (close_tx, close_rx) = watch::channel(());
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
            _ = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    accept_error(error).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let io = Permitted { stream, _permit: permit };
        tokio::spawn(serve_connection(io, peer, router.clone(), limits, signal_rx.clone(), close_rx.clone()));
    }
    drop(listener);
    drop(signal_rx);
    drop(close_rx);
    tracing::debug!("stopped accepting; waiting for requests in flight");
    drop(signal_tx);
    close_tx.closed().await;
    Ok(())
}

/// Like `axum::serve`: per-connection errors (a client that reset) are nothing; others
/// (out of file descriptors) are logged and retried after a pause rather than spinning.
async fn accept_error(error: io::Error) {
    if matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!(%error, "accepting a connection failed");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

async fn serve_connection(
    io: Permitted,
    peer: SocketAddr,
    router: Router,
    limits: ServeLimits,
    mut signal: watch::Receiver<()>,
    close: watch::Receiver<()>,
) {
    // Each request stamps the connection. Until the first one the connection is held to
    // the header timeout as a whole (hyper's own timeout starts only once it knows the
    // protocol, so a client sending nothing, or half an HTTP/2 preface, would otherwise
    // stay forever); after it, a connection on which no request starts for as long is
    // shut down gracefully (requests in flight finish), so an idle HTTP/2 connection
    // cannot hold its permit forever either.
    let activity = Arc::new(Activity::default());
    let service = {
        let activity = activity.clone();
        hyper::service::service_fn(move |mut request: Request<Incoming>| {
            activity.request_started();
            request.extensions_mut().insert(ConnectInfo(peer));
            router.clone().oneshot(request.map(Body::new))
        })
    };
    let mut builder = Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(limits.header_read_timeout);
    // Extended CONNECT carries WebSockets over HTTP/2.
    builder
        .http2()
        .timer(TokioTimer::new())
        .enable_connect_protocol()
        // A peer that stops answering pings is gone: free its connection.
        .keep_alive_interval(Some(limits.header_read_timeout))
        .keep_alive_timeout(limits.header_read_timeout);
    let connection = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
    let mut connection = std::pin::pin!(connection);
    let mut idle = std::pin::pin!(activity.idle(limits.header_read_timeout));
    let mut stopping = false;
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%peer, %error, "connection ended with an error");
                }
                break;
            }
            served = &mut idle, if !stopping => {
                if !served {
                    tracing::debug!(%peer, "no request within the header timeout; closing");
                    break;
                }
                tracing::debug!(%peer, "no new request within the header timeout; shutting down");
                stopping = true;
                connection.as_mut().graceful_shutdown();
            }
            _ = signal.changed(), if !stopping => {
                stopping = true;
                connection.as_mut().graceful_shutdown();
            }
        }
    }
    drop(close);
}

/// When a connection's requests started.
#[derive(Default)]
struct Activity {
    requests: AtomicU64,
    notify: Notify,
}

impl Activity {
    fn request_started(&self) {
        self.requests.fetch_add(1, Ordering::SeqCst);
        self.notify.notify_one();
    }

    /// Resolves once `timeout` passes without a request starting: `false` when none ever
    /// did, `true` when the connection served some and then went quiet.
    async fn idle(&self, timeout: Duration) -> bool {
        loop {
            let before = self.requests.load(Ordering::SeqCst);
            if tokio::time::timeout(timeout, self.notify.notified()).await.is_err()
                && self.requests.load(Ordering::SeqCst) == before
            {
                return before > 0;
            }
        }
    }
}

/// A connection's socket holding its permit: the permit is freed when the socket closes,
/// also when an upgraded WebSocket (which outlives hyper's connection) does.
struct Permitted {
    stream: TcpStream,
    _permit: OwnedSemaphorePermit,
}

impl AsyncRead for Permitted {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Permitted {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// Middleware: the body limit on every route. A declared `Content-Length` over the limit
/// is refused before anything is read; other bodies are cut off at the limit. The
/// dashboard's server functions read their bodies themselves (not through axum's
/// extractors, which apply `DefaultBodyLimit`), so theirs are read here, within the
/// limit, and an over-long chunked body also gets the JSON 413.
pub async fn limit_body(State(max): State<usize>, request: Request, next: Next) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|length| length > max as u64) {
        return too_large(max);
    }
    let (parts, body) = request.into_parts();
    let reads_its_own_body = crate::server_functions::is_server_function(parts.uri.path())
        && !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
    let body = if reads_its_own_body {
        match axum::body::to_bytes(body, max).await {
            Ok(bytes) => Body::from(bytes),
            Err(error) if is_length_limit(&error) => return too_large(max),
            Err(error) => {
                return ApiError::invalid("body", format!("the request body could not be read: {error}"))
                    .into_response();
            }
        }
    } else {
        Body::new(http_body_util::Limited::new(body, max))
    };
    next.run(Request::from_parts(parts, body)).await
}

fn too_large(max: usize) -> Response {
    ApiError::PayloadTooLarge(format!("the request body is larger than the limit of {max} bytes")).into_response()
}

fn is_length_limit(error: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(error) = source {
        if error.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = error.source();
    }
    false
}

/// For tests and embedding: `router` with its `ConnectInfo`, served with `limits`.
pub async fn serve_router(listener: TcpListener, router: Router, limits: ServeLimits) -> io::Result<()> {
    serve(listener, router, limits, std::future::pending()).await
}
