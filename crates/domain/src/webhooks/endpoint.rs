//! Endpoints: where events go, which events, and with which signing secret.

use std::collections::BTreeSet;
use std::fmt;

use chrono::{DateTime, Utc};

use super::events::{EventType, UnknownEventType};
use super::secret::SigningKeys;

/// Identifies a webhook endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EndpointId(i64);

impl EndpointId {
    /// Wraps a database id. Ids are positive; anything else is rejected.
    pub fn new(raw: i64) -> Option<EndpointId> {
        (raw > 0).then_some(EndpointId(raw))
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

impl fmt::Display for EndpointId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The longest URL accepted; longer ones are almost certainly a mistake.
pub const MAX_URL_LEN: usize = 2048;
/// The longest description accepted, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 500;

/// An absolute `http` or `https` URL with a host. Loopback and private addresses are
/// accepted: a panel often runs on the same host or network as Tariff.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EndpointUrl(String);

impl EndpointUrl {
    pub fn parse(text: &str) -> Result<EndpointUrl, EndpointError> {
        if text.len() > MAX_URL_LEN {
            return Err(EndpointError::UrlTooLong);
        }
        if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(EndpointError::InvalidUrl);
        }
        let lower = text.to_ascii_lowercase();
        let rest = if lower.starts_with("https://") {
            &text["https://".len()..]
        } else if lower.starts_with("http://") {
            &text["http://".len()..]
        } else {
            return Err(EndpointError::UnsupportedScheme);
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        // Credentials in the URL would be stored and shown in the clear.
        if authority.contains('@') {
            return Err(EndpointError::InvalidUrl);
        }
        let host = match authority.strip_prefix('[') {
            Some(bracketed) => {
                let (inside, after) = bracketed.split_once(']').ok_or(EndpointError::InvalidUrl)?;
                if inside.is_empty()
                    || !inside
                        .chars()
                        .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
                {
                    return Err(EndpointError::InvalidUrl);
                }
                check_port(after)?;
                inside
            }
            None => {
                let (host, port) = match authority.split_once(':') {
                    Some((host, port)) => (host, Some(port)),
                    None => (authority, None),
                };
                if let Some(port) = port {
                    check_port(&format!(":{port}"))?;
                }
                host
            }
        };
        let host_ok = !host.is_empty()
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'));
        if !host_ok {
            return Err(EndpointError::InvalidUrl);
        }
        Ok(EndpointUrl(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `after` is what follows the host: empty, or `:` and a port from 1 to 65535.
fn check_port(after: &str) -> Result<(), EndpointError> {
    if after.is_empty() {
        return Ok(());
    }
    let digits = after.strip_prefix(':').ok_or(EndpointError::InvalidUrl)?;
    match digits.parse::<u16>() {
        Ok(port) if port > 0 && digits.bytes().all(|b| b.is_ascii_digit()) => Ok(()),
        _ => Err(EndpointError::InvalidUrl),
    }
}

impl fmt::Display for EndpointUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Which events an endpoint receives: all (`["*"]`) or a non-empty set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventFilter {
    All,
    Only(BTreeSet<EventType>),
}

impl EventFilter {
    /// Reads the contract's list: `["*"]` or event names. `*` may not be mixed with
    /// names, the list may not be empty, and every name must be in the catalogue.
    /// Repeated names are accepted once.
    pub fn parse<S: AsRef<str>>(names: &[S]) -> Result<EventFilter, EndpointError> {
        if names.is_empty() {
            return Err(EndpointError::NoEvents);
        }
        if names.iter().any(|name| name.as_ref() == "*") {
            return if names.len() == 1 {
                Ok(EventFilter::All)
            } else {
                Err(EndpointError::WildcardMixedWithNames)
            };
        }
        let events = names
            .iter()
            .map(|name| name.as_ref().parse::<EventType>())
            .collect::<Result<BTreeSet<_>, UnknownEventType>>()
            .map_err(EndpointError::UnknownEvent)?;
        Ok(EventFilter::Only(events))
    }

    pub fn matches(&self, event: EventType) -> bool {
        match self {
            EventFilter::All => true,
            EventFilter::Only(events) => events.contains(&event),
        }
    }

    /// The list as the contract shows it: `["*"]` or the names in catalogue order.
    pub fn to_names(&self) -> Vec<&'static str> {
        match self {
            EventFilter::All => vec!["*"],
            EventFilter::Only(events) => events.iter().map(|e| e.wire_name()).collect(),
        }
    }
}

/// Why an endpoint's settings are refused. Each names the field at fault.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    #[error("url must be an absolute http or https URL with a host")]
    InvalidUrl,
    #[error("url must use http or https")]
    UnsupportedScheme,
    #[error("url is longer than {MAX_URL_LEN} characters")]
    UrlTooLong,
    #[error("events must name at least one event, or be [\"*\"]")]
    NoEvents,
    #[error("events may be [\"*\"] or a list of names, not both")]
    WildcardMixedWithNames,
    #[error("events: {0}")]
    UnknownEvent(UnknownEventType),
    #[error("description is longer than {MAX_DESCRIPTION_CHARS} characters")]
    DescriptionTooLong,
}

impl EndpointError {
    /// The request field at fault.
    pub fn field(&self) -> &'static str {
        match self {
            EndpointError::InvalidUrl
            | EndpointError::UnsupportedScheme
            | EndpointError::UrlTooLong => "url",
            EndpointError::NoEvents
            | EndpointError::WildcardMixedWithNames
            | EndpointError::UnknownEvent(_) => "events",
            EndpointError::DescriptionTooLong => "description",
        }
    }
}

/// An endpoint's settings as an administrator gives them, checked. Endpoints are
/// enabled unless told otherwise.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointSpec {
    url: EndpointUrl,
    events: EventFilter,
    description: Option<String>,
    enabled: bool,
}

impl EndpointSpec {
    /// Validates every field; the first fault found is returned. A blank description
    /// counts as none.
    pub fn new<S: AsRef<str>>(
        url: &str,
        events: &[S],
        description: Option<&str>,
        enabled: Option<bool>,
    ) -> Result<EndpointSpec, EndpointError> {
        let url = EndpointUrl::parse(url)?;
        let events = EventFilter::parse(events)?;
        let description = description
            .map(str::trim)
            .filter(|text| !text.is_empty())
            .map(|text| {
                if text.chars().count() > MAX_DESCRIPTION_CHARS {
                    Err(EndpointError::DescriptionTooLong)
                } else {
                    Ok(text.to_owned())
                }
            })
            .transpose()?;
        Ok(EndpointSpec {
            url,
            events,
            description,
            enabled: enabled.unwrap_or(true),
        })
    }

    pub fn url(&self) -> &EndpointUrl {
        &self.url
    }

    pub fn events(&self) -> &EventFilter {
        &self.events
    }

    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }
}

/// A stored endpoint with its signing keys. Its `Debug` never shows a secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookEndpoint {
    id: EndpointId,
    spec: EndpointSpec,
    keys: SigningKeys,
    created_at: DateTime<Utc>,
}

impl WebhookEndpoint {
    /// Reassembles a stored endpoint (adapters call this when loading a row).
    pub fn new(
        id: EndpointId,
        spec: EndpointSpec,
        keys: SigningKeys,
        created_at: DateTime<Utc>,
    ) -> WebhookEndpoint {
        WebhookEndpoint {
            id,
            spec,
            keys,
            created_at,
        }
    }

    pub fn id(&self) -> EndpointId {
        self.id
    }

    pub fn spec(&self) -> &EndpointSpec {
        &self.spec
    }

    pub fn keys(&self) -> &SigningKeys {
        &self.keys
    }

    pub fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }

    /// Whether a stored event of this type should be delivered here.
    pub fn wants(&self, event: EventType) -> bool {
        self.spec.enabled && self.spec.events.matches(event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_must_be_http_or_https_with_a_host() {
        for good in [
            "http://127.0.0.1:8080/hooks/tariff",
            "https://panel.example.com/api/tariff",
            "HTTPS://Panel.Example.com",
            "http://localhost/x?y=1",
            "http://[::1]:9000/hook",
            "http://10.0.0.5/webhook",
        ] {
            assert!(
                EndpointUrl::parse(good).is_ok(),
                "{good} should be accepted"
            );
        }
        let cases = [
            ("ftp://example.com", EndpointError::UnsupportedScheme),
            ("example.com/hook", EndpointError::UnsupportedScheme),
            ("http://", EndpointError::InvalidUrl),
            ("http:///path", EndpointError::InvalidUrl),
            ("http://user:pw@example.com/", EndpointError::InvalidUrl),
            ("http://exa mple.com/", EndpointError::InvalidUrl),
            ("http://example.com:0/", EndpointError::InvalidUrl),
            ("http://example.com:99999/", EndpointError::InvalidUrl),
            ("http://example.com:/", EndpointError::InvalidUrl),
            ("http://[::1/", EndpointError::InvalidUrl),
        ];
        for (bad, error) in cases {
            assert_eq!(EndpointUrl::parse(bad), Err(error), "{bad}");
        }
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL_LEN));
        assert_eq!(EndpointUrl::parse(&long), Err(EndpointError::UrlTooLong));
    }

    #[test]
    fn filters_take_a_wildcard_or_known_names() {
        let all = EventFilter::parse(&["*"]).unwrap();
        assert!(EventType::ALL.iter().all(|e| all.matches(*e)));
        assert_eq!(all.to_names(), vec!["*"]);

        let some =
            EventFilter::parse(&["order.activated", "account.plan_changed", "order.activated"])
                .unwrap();
        assert!(some.matches(EventType::OrderActivated));
        assert!(some.matches(EventType::AccountPlanChanged));
        assert!(!some.matches(EventType::OrderCreated));
        assert_eq!(
            some.to_names(),
            vec!["order.activated", "account.plan_changed"]
        );

        assert_eq!(
            EventFilter::parse::<&str>(&[]),
            Err(EndpointError::NoEvents)
        );
        assert_eq!(
            EventFilter::parse(&["*", "plan.created"]),
            Err(EndpointError::WildcardMixedWithNames)
        );
        assert_eq!(
            EventFilter::parse(&["order.nope"]),
            Err(EndpointError::UnknownEvent(UnknownEventType(
                "order.nope".into()
            )))
        );
    }

    #[test]
    fn spec_defaults_to_enabled_and_checks_every_field() {
        let spec =
            EndpointSpec::new("https://p.example/h", &["*"], Some("  panel  "), None).unwrap();
        assert!(spec.enabled());
        assert_eq!(spec.description(), Some("panel"));
        let blank =
            EndpointSpec::new("https://p.example/h", &["*"], Some("   "), Some(false)).unwrap();
        assert_eq!(blank.description(), None);
        assert!(!blank.enabled());

        let long = "x".repeat(MAX_DESCRIPTION_CHARS + 1);
        let error =
            EndpointSpec::new("https://p.example/h", &["*"], Some(&long), None).unwrap_err();
        assert_eq!(error, EndpointError::DescriptionTooLong);
        assert_eq!(error.field(), "description");
        let error = EndpointSpec::new("mailto:x@y", &["*"], None, None).unwrap_err();
        assert_eq!(error.field(), "url");
        let error = EndpointSpec::new::<&str>("https://p.example", &[], None, None).unwrap_err();
        assert_eq!(error.field(), "events");
    }
}
