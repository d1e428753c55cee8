//! The event catalogue, event ids and the envelope every delivery carries.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Timelike, Utc};
use rand::Rng;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::AccountRef;

/// Every event Tariff announces, with its wire name (`order.created`, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventType {
    OrderCreated,
    OrderActivated,
    OrderCancelled,
    OrderExpired,
    OrderRenewalCreated,
    OrderPastDue,
    PaymentSucceeded,
    PaymentFailed,
    InvoiceIssued,
    CreditNoteIssued,
    PlanCreated,
    PlanUpdated,
    PlanDeleted,
    AccountPlanChanged,
}

impl EventType {
    /// The whole catalogue, in the contract's order.
    pub const ALL: [EventType; 14] = [
        EventType::OrderCreated,
        EventType::OrderActivated,
        EventType::OrderCancelled,
        EventType::OrderExpired,
        EventType::OrderRenewalCreated,
        EventType::OrderPastDue,
        EventType::PaymentSucceeded,
        EventType::PaymentFailed,
        EventType::InvoiceIssued,
        EventType::CreditNoteIssued,
        EventType::PlanCreated,
        EventType::PlanUpdated,
        EventType::PlanDeleted,
        EventType::AccountPlanChanged,
    ];

    /// The name in the `type` field and in endpoint filters.
    pub fn wire_name(self) -> &'static str {
        match self {
            EventType::OrderCreated => "order.created",
            EventType::OrderActivated => "order.activated",
            EventType::OrderCancelled => "order.cancelled",
            EventType::OrderExpired => "order.expired",
            EventType::OrderRenewalCreated => "order.renewal_created",
            EventType::OrderPastDue => "order.past_due",
            EventType::PaymentSucceeded => "payment.succeeded",
            EventType::PaymentFailed => "payment.failed",
            EventType::InvoiceIssued => "invoice.issued",
            EventType::CreditNoteIssued => "credit_note.issued",
            EventType::PlanCreated => "plan.created",
            EventType::PlanUpdated => "plan.updated",
            EventType::PlanDeleted => "plan.deleted",
            EventType::AccountPlanChanged => "account.plan_changed",
        }
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.wire_name())
    }
}

/// A name that is not in the event catalogue.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown event type `{0}`")]
pub struct UnknownEventType(pub String);

impl FromStr for EventType {
    type Err = UnknownEventType;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        EventType::ALL
            .into_iter()
            .find(|event| event.wire_name() == name)
            .ok_or_else(|| UnknownEventType(name.to_owned()))
    }
}

impl Serialize for EventType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.wire_name())
    }
}

impl<'de> Deserialize<'de> for EventType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

const EVENT_ID_PREFIX: &str = "evt_";
const EVENT_ID_RANDOM_CHARS: usize = 24;
const EVENT_ID_MAX_LEN: usize = 64;

/// An event's id, `evt_` followed by letters and digits. It is the `webhook-id` header
/// and the receiver's idempotency key, the same on every attempt. It never contains a
/// `.`, which the signature scheme uses as its separator.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventId(String);

/// Text that is not an event id.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("an event id is `evt_` followed by 1 to 60 ASCII letters or digits")]
pub struct InvalidEventId;

impl EventId {
    /// A fresh random id (24 alphanumerics: about 142 bits of randomness).
    pub fn generate() -> EventId {
        let random: String = rand::thread_rng()
            .sample_iter(rand::distributions::Alphanumeric)
            .take(EVENT_ID_RANDOM_CHARS)
            .map(char::from)
            .collect();
        EventId(format!("{EVENT_ID_PREFIX}{random}"))
    }

    /// Checks a stored or received id.
    pub fn parse(text: &str) -> Result<EventId, InvalidEventId> {
        let rest = text.strip_prefix(EVENT_ID_PREFIX).ok_or(InvalidEventId)?;
        let valid = !rest.is_empty()
            && text.len() <= EVENT_ID_MAX_LEN
            && rest.bytes().all(|b| b.is_ascii_alphanumeric());
        valid
            .then(|| EventId(text.to_owned()))
            .ok_or(InvalidEventId)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for EventId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for EventId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        EventId::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// The position of an event in its account's stream: 1, 2, 3, ... in the order the
/// events happened. Events without an account (the plan catalogue's) form one stream of
/// their own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u64", into = "u64")]
pub struct Sequence(u64);

/// A sequence number below 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a sequence number starts at 1")]
pub struct InvalidSequence;

impl Sequence {
    pub const FIRST: Sequence = Sequence(1);

    pub fn new(raw: u64) -> Result<Sequence, InvalidSequence> {
        (raw >= 1).then_some(Sequence(raw)).ok_or(InvalidSequence)
    }

    pub fn get(self) -> u64 {
        self.0
    }

    /// The number of the stream's next event; `None` past `u64::MAX`.
    pub fn next(self) -> Option<Sequence> {
        self.0.checked_add(1).map(Sequence)
    }
}

impl TryFrom<u64> for Sequence {
    type Error = InvalidSequence;
    fn try_from(raw: u64) -> Result<Self, Self::Error> {
        Sequence::new(raw)
    }
}

impl From<Sequence> for u64 {
    fn from(sequence: Sequence) -> u64 {
        sequence.0
    }
}

/// The account an event concerns, as it appears on the wire: `{"kind":"user","id":7}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct WireAccount {
    kind: WireAccountKind,
    id: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum WireAccountKind {
    User,
    Org,
}

mod account_on_the_wire {
    use super::{WireAccount, WireAccountKind};
    use crate::AccountRef;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(
        account: &Option<AccountRef>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        account
            .map(|account| WireAccount {
                kind: match account {
                    AccountRef::User(_) => WireAccountKind::User,
                    AccountRef::Org(_) => WireAccountKind::Org,
                },
                id: account.raw_id(),
            })
            .serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<AccountRef>, D::Error> {
        let Some(wire) = Option::<WireAccount>::deserialize(deserializer)? else {
            return Ok(None);
        };
        let kind = match wire.kind {
            WireAccountKind::User => "user",
            WireAccountKind::Org => "org",
        };
        AccountRef::from_parts(kind, wire.id)
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom("an account id is a positive integer"))
    }
}

mod timestamp_on_the_wire {
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&at.to_rfc3339_opts(SecondsFormat::Secs, true))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<DateTime<Utc>, D::Error> {
        let text = String::deserialize(deserializer)?;
        DateTime::parse_from_rfc3339(&text)
            .map(|at| at.with_timezone(&Utc))
            .map_err(serde::de::Error::custom)
    }
}

/// One event as delivered: the JSON body of every attempt, byte for byte the same on
/// each (it is serialised once, when the event is stored, and the stored text is sent).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Envelope {
    id: EventId,
    #[serde(rename = "type")]
    event_type: EventType,
    #[serde(with = "timestamp_on_the_wire")]
    created_at: DateTime<Utc>,
    #[serde(with = "account_on_the_wire")]
    account: Option<AccountRef>,
    sequence: Sequence,
    data: serde_json::Value,
}

/// Why an envelope cannot be built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidEnvelope {
    /// `data` must be a JSON object.
    #[error("event data must be a JSON object")]
    DataNotAnObject,
}

impl Envelope {
    /// A new event. Its creation time is kept to the second, as the wire carries it, so
    /// that a stored envelope equals the one read back from its JSON.
    pub fn new(
        id: EventId,
        event_type: EventType,
        created_at: DateTime<Utc>,
        account: Option<AccountRef>,
        sequence: Sequence,
        data: serde_json::Value,
    ) -> Result<Envelope, InvalidEnvelope> {
        if !data.is_object() {
            return Err(InvalidEnvelope::DataNotAnObject);
        }
        let created_at = created_at.with_nanosecond(0).unwrap_or(created_at);
        Ok(Envelope {
            id,
            event_type,
            created_at,
            account,
            sequence,
            data,
        })
    }

    pub fn id(&self) -> &EventId {
        &self.id
    }

    pub fn event_type(&self) -> EventType {
        self.event_type
    }

    pub fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }

    pub fn account(&self) -> Option<AccountRef> {
        self.account
    }

    pub fn sequence(&self) -> Sequence {
        self.sequence
    }

    pub fn data(&self) -> &serde_json::Value {
        &self.data
    }

    /// The body every attempt sends: compact JSON, fields in the contract's order.
    pub fn to_body(&self) -> String {
        // Serialising a struct of strings, integers and a `Value` cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// An event a change emits, before it is stored. The store completes it inside the
/// change's transaction: a fresh id, the account's next sequence number and the time of
/// the change (see [`EventDraft::into_envelope`]), then one delivery per enabled endpoint
/// that [wants](super::endpoint::WebhookEndpoint::wants) its type.
#[derive(Clone, Debug, PartialEq)]
pub struct EventDraft {
    event_type: EventType,
    account: Option<AccountRef>,
    data: serde_json::Value,
}

impl EventDraft {
    /// `data` must be a JSON object.
    pub fn new(
        event_type: EventType,
        account: Option<AccountRef>,
        data: serde_json::Value,
    ) -> Result<EventDraft, InvalidEnvelope> {
        if !data.is_object() {
            return Err(InvalidEnvelope::DataNotAnObject);
        }
        Ok(EventDraft {
            event_type,
            account,
            data,
        })
    }

    pub fn event_type(&self) -> EventType {
        self.event_type
    }

    /// Whose stream the event's sequence number is taken from (`None`: the catalogue's).
    pub fn account(&self) -> Option<AccountRef> {
        self.account
    }

    pub fn into_envelope(
        self,
        id: EventId,
        created_at: DateTime<Utc>,
        sequence: Sequence,
    ) -> Envelope {
        Envelope {
            id,
            event_type: self.event_type,
            created_at: created_at.with_nanosecond(0).unwrap_or(created_at),
            account: self.account,
            sequence,
            data: self.data,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{OrgId, UserId};

    #[test]
    fn every_event_round_trips_through_its_wire_name() {
        for event in EventType::ALL {
            assert_eq!(event.wire_name().parse::<EventType>(), Ok(event));
        }
        let names: std::collections::BTreeSet<_> =
            EventType::ALL.iter().map(|e| e.wire_name()).collect();
        assert_eq!(names.len(), EventType::ALL.len(), "wire names are distinct");
        assert_eq!(
            "order.shipped".parse::<EventType>(),
            Err(UnknownEventType("order.shipped".into()))
        );
    }

    #[test]
    fn event_ids_are_prefixed_random_and_dot_free() {
        let first = EventId::generate();
        let second = EventId::generate();
        assert_ne!(first, second);
        assert!(first.as_str().starts_with("evt_"));
        assert_eq!(first.as_str().len(), 4 + 24);
        assert!(!first.as_str().contains('.'));
        assert_eq!(EventId::parse(first.as_str()), Ok(first));
        assert_eq!(EventId::parse("evt_"), Err(InvalidEventId));
        assert_eq!(EventId::parse("evt_a.b"), Err(InvalidEventId));
        assert_eq!(EventId::parse("msg_abc"), Err(InvalidEventId));
        assert_eq!(
            EventId::parse(&format!("evt_{}", "a".repeat(61))),
            Err(InvalidEventId)
        );
    }

    #[test]
    fn envelope_serialises_in_the_contract_shape() {
        let at = DateTime::parse_from_rfc3339("2026-11-30T10:00:00.750Z")
            .unwrap()
            .with_timezone(&Utc);
        let envelope = Envelope::new(
            EventId::parse("evt_abc123").unwrap(),
            EventType::AccountPlanChanged,
            at,
            Some(AccountRef::User(UserId::new(7).unwrap())),
            Sequence::new(3).unwrap(),
            serde_json::json!({"plan": {"id": 2}, "limits": {}, "order": null}),
        )
        .unwrap();
        assert_eq!(
            envelope.to_body(),
            r#"{"id":"evt_abc123","type":"account.plan_changed","createdAt":"2026-11-30T10:00:00Z","account":{"kind":"user","id":7},"sequence":3,"data":{"limits":{},"order":null,"plan":{"id":2}}}"#
        );
        let back: Envelope = serde_json::from_str(&envelope.to_body()).unwrap();
        assert_eq!(back, envelope);
    }

    #[test]
    fn envelope_account_is_null_or_an_org() {
        let at = Utc::now();
        let catalogue = Envelope::new(
            EventId::generate(),
            EventType::PlanCreated,
            at,
            None,
            Sequence::FIRST,
            serde_json::json!({"id": 1}),
        )
        .unwrap();
        let json: serde_json::Value = serde_json::from_str(&catalogue.to_body()).unwrap();
        assert_eq!(json["account"], serde_json::Value::Null);

        let org = Envelope::new(
            EventId::generate(),
            EventType::OrderCreated,
            at,
            Some(AccountRef::Org(OrgId::new(4).unwrap())),
            Sequence::FIRST,
            serde_json::json!({}),
        )
        .unwrap();
        let json: serde_json::Value = serde_json::from_str(&org.to_body()).unwrap();
        assert_eq!(json["account"], serde_json::json!({"kind": "org", "id": 4}));
    }

    #[test]
    fn a_draft_becomes_the_envelope_its_store_completes() {
        let account = Some(AccountRef::Org(OrgId::new(4).unwrap()));
        let draft = EventDraft::new(
            EventType::OrderActivated,
            account,
            serde_json::json!({"id": 9}),
        )
        .unwrap();
        assert_eq!(draft.account(), account);
        let id = EventId::generate();
        let at = DateTime::parse_from_rfc3339("2026-11-30T10:00:00.5Z")
            .unwrap()
            .with_timezone(&Utc);
        let envelope = draft.into_envelope(id.clone(), at, Sequence::new(12).unwrap());
        let expected = Envelope::new(
            id,
            EventType::OrderActivated,
            at,
            account,
            Sequence::new(12).unwrap(),
            serde_json::json!({"id": 9}),
        )
        .unwrap();
        assert_eq!(envelope, expected);
        assert_eq!(
            EventDraft::new(EventType::PlanCreated, None, serde_json::json!("x")),
            Err(InvalidEnvelope::DataNotAnObject)
        );
    }

    #[test]
    fn envelope_refuses_bad_data_and_bad_wire_input() {
        let made = Envelope::new(
            EventId::generate(),
            EventType::PlanDeleted,
            Utc::now(),
            None,
            Sequence::FIRST,
            serde_json::json!([1]),
        );
        assert_eq!(made, Err(InvalidEnvelope::DataNotAnObject));
        let zero_sequence = r#"{"id":"evt_a","type":"plan.created","createdAt":"2026-11-30T10:00:00Z","account":null,"sequence":0,"data":{}}"#;
        assert!(serde_json::from_str::<Envelope>(zero_sequence).is_err());
        let bad_kind = r#"{"id":"evt_a","type":"plan.created","createdAt":"2026-11-30T10:00:00Z","account":{"kind":"team","id":1},"sequence":1,"data":{}}"#;
        assert!(serde_json::from_str::<Envelope>(bad_kind).is_err());
    }
}
