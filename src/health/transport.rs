//! One HTTP(S) `GET` for the `/readyz` and `http` checks, on reqwest
//! (rustls, HTTP/1.1, no proxy, no redirects, a fresh connection each time),
//! with every stage bounded on its own and reported by name.
//!
//! reqwest sees the TCP connect and the TLS handshake as one "connect"
//! step: its `connect_timeout` bounds both together and its errors do not
//! say which one failed. So the TCP connect is made here first, bounded by
//! the connect timeout (a refusal or a timeout there is the connect stage);
//! reqwest then connects to that same address, bounded by connect + TLS, and
//! a connect error or timeout of its own is the TLS stage (a certificate
//! error is told by the `rustls::Error` in its source chain). The response
//! stage is everything after, bounded from outside. A layer on reqwest's
//! connector ([`CountConnects`]) says when reqwest's connection is up: the
//! TLS bound runs from our own connect to that moment, and the response
//! bound from that moment on, so neither stage borrows time from the other
//! and a hung handshake is never called a late answer. The name to verify in
//! the certificate (`server_name`, e.g. `kubernetes` while connecting to
//! 127.0.0.1) is given to reqwest as the URL's host, resolved to the address
//! connected to, so it is also the SNI.

use std::error::Error as _;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use reqwest::header::{ACCEPT, AUTHORIZATION, CONNECTION, HOST, HeaderValue};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout_at};

use super::{Failure, Secret, Service, Stage, StageTimeouts};

/// A `/readyz` body is a few hundred bytes; anything far larger is not an
/// answer worth reading.
const BODY_LIMIT: usize = 64 * 1024;

/// Where the system's trust store usually is (Debian, Fedora, openSUSE,
/// Alpine), for `https` checks without a `ca_cert`.
const SYSTEM_CA_FILES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// How the server's certificate is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Trust {
    /// It must chain to a certificate of this PEM file.
    CaFile(PathBuf),
    /// It must chain to the system trust store.
    System,
    /// Not checked at all (the handshake signature still is).
    Insecure,
}

/// Everything one `GET` needs.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub service: Service,
    /// Host to connect to: an IP address or a name to look up.
    pub host: String,
    pub port: u16,
    /// `None` for plain `http`; else how to verify and which name.
    pub tls: Option<(Trust, String)>,
    /// The `Host` header.
    pub authority: String,
    pub path_and_query: String,
    pub bearer: Option<Secret>,
}

/// What came back.
#[derive(Debug, Clone)]
pub(crate) struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

/// Resolves `host`, bounded by `deadline`.
async fn resolve(
    host: &str,
    port: u16,
    service: Service,
    deadline: Instant,
    limit: Duration,
) -> Result<Vec<SocketAddr>, Failure> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    Ok(timeout_at(deadline, tokio::net::lookup_host((host, port)))
        .await
        .map_err(|_| Failure::Timeout {
            service,
            stage: Stage::Resolve,
            limit,
        })?
        .map_err(|e| Failure::Io {
            stage: Stage::Resolve,
            error: format!("{host}: {e}"),
        })?
        .collect())
}

/// Runs `req`: each stage bounded by its own timeout in `stages`, all of
/// them by `total`.
pub(crate) async fn get(
    clients: &mut ClientCache,
    req: &Request,
    stages: StageTimeouts,
    total: Duration,
) -> Result<Response, Failure> {
    let start = Instant::now();
    let end = start + total;
    let limit_of = |d: Duration| d.min(total);
    let timeout = |stage, limit| Failure::Timeout {
        service: req.service,
        stage,
        limit,
    };
    let connect_limit = limit_of(stages.connect);
    let connect_by = (start + stages.connect).min(end);
    let addrs = resolve(&req.host, req.port, req.service, connect_by, connect_limit).await?;
    let addr = connect(&addrs, req.service, connect_by, connect_limit)
        .await?
        .peer_addr()
        .map_err(|e| Failure::Io {
            stage: Stage::Connect,
            error: e.to_string(),
        })?;
    let (client, url, connected) = clients.get(req, addr, stages.connect + stages.tls)?;
    let connects_before = connected.count.load(Ordering::Relaxed);
    // Armed before the request goes, so the moment it connects is not missed.
    let up = connected.notify.notified();
    tokio::pin!(up);
    up.as_mut().enable();
    let mut builder = client
        .get(url)
        .header(HOST, req.authority.as_str())
        .header(ACCEPT, "text/plain, */*")
        .header(CONNECTION, "close");
    if let Some(token) = &req.bearer {
        let mut value =
            HeaderValue::from_str(&format!("Bearer {}", token.expose())).map_err(|_| {
                Failure::Config(
                    "token contains characters not allowed in an HTTP header".to_string(),
                )
            })?;
        value.set_sensitive(true);
        builder = builder.header(AUTHORIZATION, value);
    }
    // reqwest's TCP connect to an address that just accepted ours takes
    // microseconds: the handshake's bound starts now.
    let tls_by = (Instant::now() + stages.tls).min(end);
    let tls_limit = limit_of(stages.tls);
    let work = async {
        let mut response = builder
            .send()
            .await
            .map_err(|e| classify(e, req.service, addr, tls_limit))?;
        let status = response.status().as_u16();
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| Failure::Http(format!("reading the body: {}", chain(&e))))?
        {
            if body.len() + chunk.len() > BODY_LIMIT {
                return Err(Failure::Http(format!(
                    "the body is larger than {BODY_LIMIT} bytes"
                )));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Response { status, body })
    };
    tokio::pin!(work);
    let answer_by = tokio::select! {
        r = &mut work => return r,
        _ = &mut up => (Instant::now() + stages.response).min(end),
        _ = tokio::time::sleep_until(tls_by) => {
            if connected.count.load(Ordering::Relaxed) == connects_before {
                return Err(timeout(Stage::Tls, tls_limit));
            }
            // Connected in the same instant.
            (Instant::now() + stages.response).min(end)
        }
    };
    timeout_at(answer_by, work)
        .await
        .map_err(|_| timeout(Stage::Http, limit_of(stages.response)))?
}

/// An error and its sources, for a reason line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cur = s.source();
    }
    out
}

/// Maps a reqwest error to a reason: a `rustls::Error` anywhere in its
/// sources is a certificate or TLS protocol problem; a refusal means the
/// listener went away since our own connect; any other connect error or a
/// connect timeout happened in the TLS handshake (TCP had just worked).
fn classify(e: reqwest::Error, service: Service, addr: SocketAddr, tls_limit: Duration) -> Failure {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = e.source();
    while let Some(s) = cur {
        if let Some(tls) = s.downcast_ref::<rustls::Error>() {
            return Failure::Tls(tls.to_string());
        }
        // io::Error's own `source()` skips the error it wraps (hyper-util
        // wraps tokio-rustls's io::Error, which wraps the rustls::Error),
        // so its layers are unwrapped here.
        let mut io = s.downcast_ref::<io::Error>();
        while let Some(e) = io {
            if e.kind() == io::ErrorKind::ConnectionRefused {
                return Failure::Refused { service, addr };
            }
            let inner = e.get_ref();
            if let Some(tls) = inner.and_then(|i| i.downcast_ref::<rustls::Error>()) {
                return Failure::Tls(tls.to_string());
            }
            io = inner.and_then(|i| i.downcast_ref::<io::Error>());
        }
        cur = s.source();
    }
    if e.is_connect() && e.is_timeout() {
        return Failure::Timeout {
            service,
            stage: Stage::Tls,
            limit: tls_limit,
        };
    }
    if e.is_connect() {
        return Failure::Io {
            stage: Stage::Tls,
            error: chain(&e),
        };
    }
    Failure::Http(chain(&e))
}

/// TCP connect to the first address that accepts. A refusal of every
/// address is the most useful thing to report ("is the API server
/// running?"), so it wins over other errors.
pub(crate) async fn connect(
    addrs: &[SocketAddr],
    service: Service,
    deadline: Instant,
    limit: Duration,
) -> Result<TcpStream, Failure> {
    let mut last = Failure::Io {
        stage: Stage::Resolve,
        error: "no address to connect to".to_string(),
    };
    for addr in addrs {
        match timeout_at(deadline, TcpStream::connect(addr)).await {
            Err(_) => {
                return Err(Failure::Timeout {
                    service,
                    stage: Stage::Connect,
                    limit,
                });
            }
            Ok(Ok(stream)) => return Ok(stream),
            Ok(Err(e)) if e.kind() == io::ErrorKind::ConnectionRefused => {
                last = Failure::Refused {
                    service,
                    addr: *addr,
                };
            }
            Ok(Err(e)) => {
                if !matches!(last, Failure::Refused { .. }) {
                    last = Failure::Io {
                        stage: Stage::Connect,
                        error: format!("{addr}: {e}"),
                    };
                }
            }
        }
    }
    Err(last)
}

/// What a client is built for: a new CA file (mtime or size changed), a
/// new address or new bounds make a new client.
type ClientKey = (
    Option<(Trust, Option<(SystemTime, u64)>, String)>,
    SocketAddr,
    Duration,
);

/// The reqwest client of one check, kept while nothing it was built from
/// changed, so a probe does not re-parse a trust store each time, yet a
/// rotated CA (the service account's `ca.crt`) is picked up on the next
/// probe.
#[derive(Debug, Default)]
pub(crate) struct ClientCache {
    key: Option<ClientKey>,
    client: Option<reqwest::Client>,
    /// Connections the client's connector completed (TCP and TLS).
    connected: Arc<Connected>,
}

/// What [`CountConnects`] reports: how many connections are up, and a
/// wake-up when one comes up.
#[derive(Debug, Default)]
pub(crate) struct Connected {
    count: AtomicU64,
    notify: tokio::sync::Notify,
}

/// A tower layer around reqwest's connector that counts the connections
/// it completes: a probe compares the count before and after to tell a
/// hung TLS handshake from a late answer.
#[derive(Clone)]
struct CountConnects<S> {
    inner: S,
    done: Arc<Connected>,
}

impl<S, R> tower::Service<R> for CountConnects<S>
where
    S: tower::Service<R>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: R) -> Self::Future {
        let connecting = self.inner.call(req);
        let done = Arc::clone(&self.done);
        Box::pin(async move {
            let conn = connecting.await;
            if conn.is_ok() {
                done.count.fetch_add(1, Ordering::Relaxed);
                done.notify.notify_waiters();
            }
            conn
        })
    }
}

/// `server_name` as a URL host: a DNS name as it is, an IP address as
/// itself (in brackets for IPv6).
fn url_host(name: &str) -> Result<(String, bool), Failure> {
    match ServerName::try_from(name.to_string()) {
        Ok(ServerName::DnsName(_)) => Ok((name.to_string(), true)),
        Ok(ServerName::IpAddress(_)) => match name.parse::<IpAddr>() {
            Ok(IpAddr::V6(v6)) => Ok((format!("[{v6}]"), false)),
            Ok(ip) => Ok((ip.to_string(), false)),
            Err(_) => Ok((name.to_string(), false)),
        },
        _ => Err(Failure::Config(format!(
            "server_name {name:?} is not a DNS name or IP address"
        ))),
    }
}

impl ClientCache {
    fn get(
        &mut self,
        req: &Request,
        addr: SocketAddr,
        connect_timeout: Duration,
    ) -> Result<(reqwest::Client, String, Arc<Connected>), Failure> {
        let (scheme, host, name) = match &req.tls {
            Some((trust, name)) => {
                let (host, dns) = url_host(name)?;
                if !dns && host.trim_matches(['[', ']']).parse::<IpAddr>().ok() != Some(addr.ip()) {
                    return Err(Failure::Config(format!(
                        "server_name {name:?} is an IP address other than the one connected to \
                         ({}): use a DNS name from the certificate, or that address",
                        addr.ip()
                    )));
                }
                ("https", host, dns.then(|| (trust.clone(), name.clone())))
            }
            None => {
                let host = match addr.ip() {
                    IpAddr::V6(v6) => format!("[{v6}]"),
                    ip => ip.to_string(),
                };
                ("http", host, None)
            }
        };
        let url = format!("{scheme}://{host}:{}{}", addr.port(), req.path_and_query);
        let stamp = |trust: &Trust| match trust {
            Trust::CaFile(path) => std::fs::metadata(path)
                .ok()
                .and_then(|m| Some((m.modified().ok()?, m.len()))),
            Trust::System | Trust::Insecure => None,
        };
        let key: ClientKey = (
            req.tls
                .as_ref()
                .map(|(t, n)| (t.clone(), stamp(t), n.clone())),
            addr,
            connect_timeout,
        );
        if let (Some(k), Some(client)) = (&self.key, &self.client)
            && *k == key
        {
            return Ok((client.clone(), url, Arc::clone(&self.connected)));
        }
        let tls = client_config(match &req.tls {
            Some((trust, _)) => trust,
            // Never used for http://, but reqwest builds a TLS connector
            // anyway and this crate installs no process-wide provider.
            None => &Trust::Insecure,
        })?;
        let mut builder = reqwest::Client::builder()
            .use_preconfigured_tls((*tls).clone())
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(0)
            .connect_timeout(connect_timeout)
            .user_agent(concat!("ha-vip/", env!("CARGO_PKG_VERSION")))
            .connector_layer(tower::layer::layer_fn({
                let done = Arc::clone(&self.connected);
                move |inner| CountConnects {
                    inner,
                    done: Arc::clone(&done),
                }
            }));
        if let Some((_, name)) = &name {
            builder = builder.resolve(name, addr);
        }
        let client = builder
            .build()
            .map_err(|e| Failure::Config(format!("HTTP client setup: {}", chain(&e))))?;
        self.key = Some(key);
        self.client = Some(client.clone());
        Ok((client, url, Arc::clone(&self.connected)))
    }
}

/// The crypto provider, chosen here rather than process-wide, so nothing
/// depends on which provider another crate installs.
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn read_pem_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, Failure> {
    let pem = std::fs::read(path)
        .map_err(|e| Failure::Config(format!("ca_cert {}: {e}", path.display())))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Failure::Config(format!("ca_cert {}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(Failure::Config(format!(
            "ca_cert {}: no PEM certificate in the file",
            path.display()
        )));
    }
    Ok(certs)
}

fn system_ca_file() -> Result<PathBuf, Failure> {
    if let Some(file) = std::env::var_os("SSL_CERT_FILE") {
        return Ok(PathBuf::from(file));
    }
    SYSTEM_CA_FILES
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .ok_or_else(|| {
            Failure::Config(format!(
                "no system trust store found ({}); set ca_cert",
                SYSTEM_CA_FILES.join(", ")
            ))
        })
}

/// Builds the rustls client configuration for `trust`.
pub(crate) fn client_config(trust: &Trust) -> Result<Arc<ClientConfig>, Failure> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| Failure::Config(format!("TLS setup: {e}")))?;
    let mut config = match trust {
        Trust::Insecure => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoCertificateCheck {
                algorithms: provider.signature_verification_algorithms,
            }))
            .with_no_client_auth(),
        Trust::CaFile(_) | Trust::System => {
            let path = match trust {
                Trust::CaFile(path) => path.clone(),
                _ => system_ca_file()?,
            };
            let mut roots = RootCertStore::empty();
            let (added, _ignored) = roots.add_parsable_certificates(read_pem_certs(&path)?);
            if added == 0 {
                return Err(Failure::Config(format!(
                    "ca_cert {}: no usable CA certificate in the file",
                    path.display()
                )));
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Accepts any certificate, for `Trust::Insecure`. Handshake signatures are
/// still verified, so the peer must at least hold the key of the
/// certificate it shows.
#[derive(Debug)]
struct NoCertificateCheck {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for NoCertificateCheck {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// Percent-encodes a query value (RFC 3986 section 3.4: unreserved
/// characters and `/` stay as they are), for names such as
/// `poststarthook/start-apiextensions-controllers`.
pub(crate) fn encode_query_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Splits an `http(s)://host[:port]/path` URL into what [`Request`] needs.
pub(crate) struct ParsedUrl {
    pub https: bool,
    pub host: String,
    pub port: u16,
    /// The authority as written, for the `Host` header.
    pub authority: String,
    /// The path and query, `/` at least, without a trailing `/` added.
    pub path_and_query: String,
}

pub(crate) fn parse_url(url: &str, key: &str) -> Result<ParsedUrl, Failure> {
    let bad = |why: &str| Failure::Config(format!("{key} {url:?}: {why}"));
    let parsed = reqwest::Url::parse(url).map_err(|e| bad(&format!("{e}")))?;
    let https = match parsed.scheme() {
        "https" => true,
        "http" => false,
        _ => return Err(bad("expected an http:// or https:// URL")),
    };
    let written = parsed.host_str().ok_or_else(|| bad("no host"))?;
    // `host_str` keeps the brackets of an IPv6 literal; connect wants them off.
    let host = written
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = parsed.port().unwrap_or(if https { 443 } else { 80 });
    let authority = match parsed.port() {
        Some(p) => format!("{written}:{p}"),
        None => written.to_string(),
    };
    let mut path_and_query = parsed.path().to_string();
    if let Some(q) = parsed.query() {
        path_and_query.push('?');
        path_and_query.push_str(q);
    }
    Ok(ParsedUrl {
        https,
        host,
        port,
        authority,
        path_and_query,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(encode_query_value("etcd"), "etcd");
        assert_eq!(
            encode_query_value("poststarthook/start-apiextensions-controllers"),
            "poststarthook/start-apiextensions-controllers"
        );
        assert_eq!(encode_query_value("a b&c=d"), "a%20b%26c%3Dd");
    }

    #[test]
    fn urls_split_into_host_port_and_path() {
        let u = parse_url("https://127.0.0.1:6443", "api_server").unwrap();
        assert!(u.https);
        assert_eq!((u.host.as_str(), u.port), ("127.0.0.1", 6443));
        assert_eq!(u.path_and_query, "/");
        let u = parse_url("http://[2001:db8::1]/healthz?x=1", "url").unwrap();
        assert!(!u.https);
        assert_eq!((u.host.as_str(), u.port), ("2001:db8::1", 80));
        assert_eq!(u.authority, "[2001:db8::1]");
        assert_eq!(u.path_and_query, "/healthz?x=1");
        let e = parse_url("ftp://x/", "url").err().unwrap();
        assert!(e.to_string().contains("expected an http"), "{e}");
    }
}
