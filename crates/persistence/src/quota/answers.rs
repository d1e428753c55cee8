//! The stored form of a ledger answer, kept under its idempotency key: the request it
//! answered and the outcome's numbers, as JSON text.

use serde_json::{json, Value};
use tariff_domain::quota::{
    Allowance, LedgerAnswer, Refusal, UsageChange, UsageLevel, UsageOutcome,
};

use super::queries::corrupt;
use crate::errors::DbError;

/// The stored form of an answer: the request it answered and the outcome's numbers.
pub(super) fn encode(change: UsageChange, outcome: &UsageOutcome) -> String {
    let mut body = json!({"resource": change.resource().key(), "delta": change.delta()});
    let fields = match *outcome {
        UsageOutcome::Applied(level) => {
            let (allowance, limit) = match level.allowance {
                Allowance::Unlimited => ("unlimited", 0),
                Allowance::UpTo(n) => ("upTo", n),
                Allowance::Nothing => ("nothing", 0),
            };
            json!({"outcome": "applied", "used": level.used, "allowance": allowance, "limit": limit})
        }
        UsageOutcome::Exceeded {
            limit,
            used,
            requested,
            ..
        } => json!({"outcome": "exceeded", "limit": limit, "used": used, "requested": requested}),
        UsageOutcome::NotPermitted { reason, .. } => json!({
            "outcome": "notPermitted",
            "reason": match reason { Refusal::NoPlan => "noPlan", Refusal::CreateNotAllowed => "createNotAllowed" },
        }),
        UsageOutcome::BelowZero { used, released, .. } => {
            json!({"outcome": "belowZero", "used": used, "released": released})
        }
    };
    if let (Value::Object(body), Value::Object(fields)) = (&mut body, fields) {
        body.extend(fields);
    }
    body.to_string()
}

/// A stored answer for the same request replays; for another request the key is reused.
pub(super) fn replay(text: &str, change: UsageChange) -> Result<LedgerAnswer, DbError> {
    let bad = || corrupt("corrupt stored idempotent answer");
    let body: Value = serde_json::from_str(text).map_err(|_| bad())?;
    let same_request = body["resource"].as_str() == Some(change.resource().key())
        && body["delta"].as_i64() == Some(change.delta());
    if !same_request {
        return Ok(LedgerAnswer::KeyReused);
    }
    let resource = change.resource();
    let number = |name: &str| body[name].as_u64().ok_or_else(bad);
    let outcome = match body["outcome"].as_str() {
        Some("applied") => UsageOutcome::Applied(UsageLevel {
            resource,
            used: number("used")?,
            allowance: match body["allowance"].as_str() {
                Some("unlimited") => Allowance::Unlimited,
                Some("upTo") => Allowance::UpTo(number("limit")?),
                Some("nothing") => Allowance::Nothing,
                _ => return Err(bad()),
            },
        }),
        Some("exceeded") => UsageOutcome::Exceeded {
            resource,
            limit: number("limit")?,
            used: number("used")?,
            requested: number("requested")?,
        },
        Some("notPermitted") => UsageOutcome::NotPermitted {
            resource,
            reason: match body["reason"].as_str() {
                Some("noPlan") => Refusal::NoPlan,
                Some("createNotAllowed") => Refusal::CreateNotAllowed,
                _ => return Err(bad()),
            },
        },
        Some("belowZero") => UsageOutcome::BelowZero {
            resource,
            used: number("used")?,
            released: number("released")?,
        },
        _ => return Err(bad()),
    };
    Ok(LedgerAnswer::Replayed(outcome))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tariff_domain::Resource;

    #[test]
    fn stored_answers_replay_only_for_the_same_request() {
        let change = UsageChange::new(Resource::Servers, 1).unwrap();
        let outcomes = [
            UsageOutcome::Applied(UsageLevel {
                resource: Resource::Servers,
                used: 3,
                allowance: Allowance::UpTo(5),
            }),
            UsageOutcome::Applied(UsageLevel {
                resource: Resource::Servers,
                used: 3,
                allowance: Allowance::Unlimited,
            }),
            UsageOutcome::Exceeded {
                resource: Resource::Servers,
                limit: 5,
                used: 5,
                requested: 1,
            },
            UsageOutcome::NotPermitted {
                resource: Resource::Servers,
                reason: Refusal::CreateNotAllowed,
            },
            UsageOutcome::BelowZero {
                resource: Resource::Servers,
                used: 0,
                released: 1,
            },
        ];
        for outcome in outcomes {
            let text = encode(change, &outcome);
            assert_eq!(
                replay(&text, change).ok(),
                Some(LedgerAnswer::Replayed(outcome))
            );
            let other = UsageChange::new(Resource::Servers, 2).unwrap();
            assert_eq!(replay(&text, other).ok(), Some(LedgerAnswer::KeyReused));
        }
    }
}
