//! The two loopback listeners (HTTPS and plain HTTP) and the connections they accept.
//! Hand-rolled over hyper so that going offline can drop every open connection and a fault can
//! close one without answering.

use std::net::SocketAddr;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt as _;

use super::{ConnectionAbort, ConnectionScheme};

pub(crate) type TlsAcceptor = tokio_rustls::TlsAcceptor;

/// Listeners that are up; [`Listeners::close`] takes them and their connections down.
pub(crate) struct Listeners {
    stop: CancellationToken,
    acceptors: Vec<JoinHandle<()>>,
}

impl Listeners {
    /// Starts serving `router` on already bound listeners: TLS on `https`, plain on `http`.
    pub(crate) fn serve(
        https: TcpListener,
        http: TcpListener,
        tls: TlsAcceptor,
        router: Router,
    ) -> Listeners {
        let stop = CancellationToken::new();
        let acceptors = vec![
            tokio::spawn(accept(https, Some(tls), router.clone(), stop.clone())),
            tokio::spawn(accept(http, None, router, stop.clone())),
        ];
        Listeners { stop, acceptors }
    }

    /// Closes both listeners and drops every open connection; returns once all are gone.
    pub(crate) async fn close(mut self) {
        self.stop.cancel();
        for acceptor in std::mem::take(&mut self.acceptors) {
            let _finished_or_panicked = acceptor.await;
        }
    }
}

impl Drop for Listeners {
    /// A mock dropped without `shutdown` still stops serving.
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Binds a loopback listener; port 0 picks a free one.
pub(crate) async fn bind(port: u16) -> std::io::Result<TcpListener> {
    TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await
}

async fn accept(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    router: Router,
    stop: CancellationToken,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    connections.spawn(serve_connection(stream, tls.clone(), router.clone()));
                }
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    connections.shutdown().await;
}

async fn serve_connection(stream: TcpStream, tls: Option<TlsAcceptor>, router: Router) {
    let abort = CancellationToken::new();
    match tls {
        Some(acceptor) => match acceptor.accept(stream).await {
            Ok(stream) => serve_http(stream, ConnectionScheme("https"), router, abort).await,
            Err(error) => tracing::debug!(%error, "TLS handshake failed"),
        },
        None => serve_http(stream, ConnectionScheme("http"), router, abort).await,
    }
}

async fn serve_http<S>(
    stream: S,
    scheme: ConnectionScheme,
    router: Router,
    abort: CancellationToken,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let request_abort = abort.clone();
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        let extensions = request.extensions_mut();
        extensions.insert(ConnectionAbort(request_abort.clone()));
        extensions.insert(scheme);
        router.clone().oneshot(request)
    });
    let connection =
        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        result = connection => {
            if let Err(error) = result {
                tracing::debug!(%error, "connection ended with an error");
            }
        }
        // Dropping the connection closes the socket without a response.
        () = abort.cancelled() => {}
    }
}
