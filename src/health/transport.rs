//! One HTTP(S) `GET`, stage by stage: name lookup, TCP connect, TLS
//! handshake, request. Each stage runs against the probe's deadline and fails
//! with its own [`Failure`], so a reason says exactly where it went wrong —
//! which is why this is a small hyper client over tokio-rustls rather than a
//! general-purpose HTTP client that hides the stages.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http_body_util::{BodyExt as _, Empty, Limited};
use hyper::body::Bytes;
use hyper::header::{ACCEPT, AUTHORIZATION, CONNECTION, HOST, HeaderValue, USER_AGENT};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout_at};

use super::{Failure, Secret, Service, Stage};

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
    /// `None` for plain `http`.
    pub tls: Option<(Arc<ClientConfig>, ServerName<'static>)>,
    /// The `Host` header.
    pub authority: String,
    pub path_and_query: String,
    pub bearer: Option<Secret>,
}

/// What came back.
#[derive(Debug, Clone)]
pub(crate) struct Response {
    pub status: u16,
    pub body: Bytes,
}

/// Runs `req` with every stage bounded by `deadline`; `limit` is the whole
/// probe's timeout, named in the reason when it runs out.
pub(crate) async fn get(
    req: &Request,
    deadline: Instant,
    limit: Duration,
) -> Result<Response, Failure> {
    let timeout = |stage| Failure::Timeout {
        service: req.service,
        stage,
        limit,
    };
    let addrs: Vec<SocketAddr> = match req.host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, req.port)],
        Err(_) => timeout_at(
            deadline,
            tokio::net::lookup_host((req.host.as_str(), req.port)),
        )
        .await
        .map_err(|_| timeout(Stage::Resolve))?
        .map_err(|e| Failure::Io {
            stage: Stage::Resolve,
            error: format!("{}: {e}", req.host),
        })?
        .collect(),
    };
    let tcp = connect(&addrs, req.service, deadline, limit).await?;
    let Some((config, server_name)) = &req.tls else {
        return exchange(tcp, req, deadline, limit).await;
    };
    let connector = tokio_rustls::TlsConnector::from(Arc::clone(config));
    let tls = timeout_at(deadline, connector.connect(server_name.clone(), tcp))
        .await
        .map_err(|_| timeout(Stage::Tls))?
        .map_err(classify_tls_error)?;
    exchange(tls, req, deadline, limit).await
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

/// A rustls error inside the io::Error is a certificate or protocol problem
/// (the hint points at `ca_cert` / `server_name`); anything else is the
/// connection failing under the handshake.
fn classify_tls_error(e: io::Error) -> Failure {
    if let Some(inner) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        return Failure::Tls(inner.to_string());
    }
    Failure::Io {
        stage: Stage::Tls,
        error: e.to_string(),
    }
}

/// The HTTP/1.1 exchange over an established stream. The connection task is
/// driven here, not spawned, so a timeout drops everything with the probe.
async fn exchange<S>(
    stream: S,
    req: &Request,
    deadline: Instant,
    limit: Duration,
) -> Result<Response, Failure>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let timeout = || Failure::Timeout {
        service: req.service,
        stage: Stage::Http,
        limit,
    };
    let http_err = |e: hyper::Error| Failure::Http(e.to_string());
    let mut builder = hyper::Request::get(req.path_and_query.as_str())
        .header(HOST, req.authority.as_str())
        .header(USER_AGENT, concat!("ha-vip/", env!("CARGO_PKG_VERSION")))
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
    let request = builder
        .body(Empty::<Bytes>::new())
        .map_err(|e| Failure::Config(format!("cannot build the request: {e}")))?;

    let work = async {
        let io = hyper_util::rt::TokioIo::new(stream);
        let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
            .await
            .map_err(http_err)?;
        let request_done = async move {
            let response = sender.send_request(request).await.map_err(http_err)?;
            let status = response.status().as_u16();
            let body = Limited::new(response.into_body(), BODY_LIMIT)
                .collect()
                .await
                .map_err(|e| Failure::Http(format!("reading the body: {e}")))?
                .to_bytes();
            Ok::<_, Failure>(Response { status, body })
        };
        tokio::pin!(request_done);
        tokio::pin!(conn);
        tokio::select! {
            r = &mut request_done => r,
            c = &mut conn => match c {
                // The connection may finish first once it has handed over the
                // whole response: the request future then completes.
                Ok(()) => request_done.await,
                Err(e) => Err(http_err(e)),
            },
        }
    };
    timeout_at(deadline, work).await.map_err(|_| timeout())?
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

/// A client configuration kept while its CA file is unchanged, so a 2 s
/// probe does not re-parse a trust store each time, yet a rotated CA (the
/// service account's `ca.crt`) is picked up on the next probe.
#[derive(Debug, Default)]
pub(crate) struct TlsCache {
    key: Option<(Trust, Option<(SystemTime, u64)>)>,
    config: Option<Arc<ClientConfig>>,
}

impl TlsCache {
    pub(crate) fn get(&mut self, trust: &Trust) -> Result<Arc<ClientConfig>, Failure> {
        let stamp = match trust {
            Trust::CaFile(path) => std::fs::metadata(path)
                .ok()
                .and_then(|m| Some((m.modified().ok()?, m.len()))),
            Trust::System | Trust::Insecure => None,
        };
        let key = (trust.clone(), stamp);
        if let (Some(k), Some(config)) = (&self.key, &self.config)
            && *k == key
        {
            return Ok(Arc::clone(config));
        }
        let config = client_config(trust)?;
        self.key = Some(key);
        self.config = Some(Arc::clone(&config));
        Ok(config)
    }
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
    let uri: hyper::Uri = url.parse().map_err(|e| bad(&format!("{e}")))?;
    let https = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => false,
        _ => return Err(bad("expected an http:// or https:// URL")),
    };
    let authority = uri.authority().ok_or_else(|| bad("no host"))?;
    // `Uri::host` keeps the brackets of an IPv6 literal; connect wants them off.
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
    let path_and_query = uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".to_string());
    Ok(ParsedUrl {
        https,
        host,
        port,
        authority: authority.as_str().to_string(),
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
