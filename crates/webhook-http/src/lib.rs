//! The webhook transport: [`HttpTransport`] implements the domain's
//! [`WebhookTransport`] with `reqwest`: one POST per attempt, bounded by the attempt's
//! timeout, redirects not followed, at most [`MAX_EXCERPT_BYTES`] of the answer read.

use std::error::Error as _;

use async_trait::async_trait;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};
use reqwest::redirect::Policy;
use tariff_domain::webhooks::{
    OutgoingRequest, TransportError, TransportResponse, WebhookTransport,
};

/// The most of an answer's body kept for the deliveries log's `lastError`.
pub const MAX_EXCERPT_BYTES: usize = 1024;

const USER_AGENT: &str = concat!("Tariff-Webhooks/", env!("CARGO_PKG_VERSION"));

/// Sends deliveries with a shared connection pool.
#[derive(Clone, Debug)]
pub struct HttpTransport {
    client: reqwest::Client,
}

/// The HTTP client could not be built (its TLS backend failed to initialise).
#[derive(Debug, thiserror::Error)]
#[error("could not build the webhook HTTP client")]
pub struct TransportBuildError(#[source] reqwest::Error);

impl HttpTransport {
    pub fn new() -> Result<HttpTransport, TransportBuildError> {
        let client = reqwest::Client::builder()
            // A redirect is an answer, not a place to send the event: the Standard
            // Webhooks guidance is to fix the endpoint's URL instead.
            .redirect(Policy::none())
            .user_agent(USER_AGENT)
            .build()
            .map_err(TransportBuildError)?;
        Ok(HttpTransport { client })
    }
}

fn headers_of(request: &OutgoingRequest) -> Result<HeaderMap, TransportError> {
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    for (name, value) in request.headers.pairs() {
        let value = HeaderValue::from_str(value)
            .map_err(|_| TransportError::Other(format!("the {name} header is not valid")))?;
        headers.insert(HeaderName::from_static(name), value);
    }
    Ok(headers)
}

/// The error and its causes, for the deliveries log (without the URL, which the log
/// shows beside it).
fn describe(error: &reqwest::Error) -> String {
    let mut text = String::new();
    let mut cause: Option<&dyn std::error::Error> = error.source();
    while let Some(current) = cause {
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&current.to_string());
        cause = current.source();
    }
    if text.is_empty() {
        text = error.to_string();
    }
    text
}

fn classify(error: reqwest::Error) -> TransportError {
    if error.is_timeout() {
        TransportError::Timeout
    } else if error.is_connect() {
        TransportError::Connect(describe(&error))
    } else {
        TransportError::Other(describe(&error))
    }
}

#[async_trait]
impl WebhookTransport for HttpTransport {
    async fn post(&self, request: OutgoingRequest) -> Result<TransportResponse, TransportError> {
        let headers = headers_of(&request)?;
        // reqwest's per-request timeout runs from connecting to the end of the body.
        let mut response = self
            .client
            .post(request.url.as_str())
            .headers(headers)
            .body(request.body)
            .timeout(request.timeout)
            .send()
            .await
            .map_err(classify)?;
        let status = response.status().as_u16();
        let mut excerpt: Vec<u8> = Vec::new();
        while excerpt.len() < MAX_EXCERPT_BYTES {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    let wanted = (MAX_EXCERPT_BYTES - excerpt.len()).min(chunk.len());
                    excerpt.extend_from_slice(&chunk[..wanted]);
                }
                // The status is the answer; a body cut short or slow only shortens the
                // excerpt.
                Ok(None) | Err(_) => break,
            }
        }
        Ok(TransportResponse {
            status,
            body_excerpt: String::from_utf8_lossy(&excerpt).into_owned(),
        })
    }
}
