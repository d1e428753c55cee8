//! Opaque references a payment gateway hands out (customer, payment, session, refund ids)
//! and the idempotency keys Tariff hands to it. Each is its own type, so a refund id can
//! never be passed where a payment reference is expected.

use std::fmt;

/// Why a gateway reference or idempotency key was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidGatewayRef {
    #[error("{0} must not be empty")]
    Empty(&'static str),
    #[error("{what} must be at most {max} characters")]
    TooLong { what: &'static str, max: usize },
    #[error("{0} may contain only printable ASCII without spaces")]
    BadCharacter(&'static str),
}

/// Gateway ids are short printable ASCII tokens (`cus_...`, `pi_...`); Stripe caps
/// idempotency keys at 255 characters and its ids are far shorter.
const MAX_REF_CHARS: usize = 255;

fn validate(what: &'static str, raw: &str) -> Result<(), InvalidGatewayRef> {
    if raw.is_empty() {
        return Err(InvalidGatewayRef::Empty(what));
    }
    if raw.len() > MAX_REF_CHARS {
        return Err(InvalidGatewayRef::TooLong {
            what,
            max: MAX_REF_CHARS,
        });
    }
    if !raw.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(InvalidGatewayRef::BadCharacter(what));
    }
    Ok(())
}

macro_rules! gateway_ref {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// Wraps a reference: non-empty printable ASCII without spaces, at most 255 bytes.
            pub fn new(raw: impl Into<String>) -> Result<Self, InvalidGatewayRef> {
                let raw = raw.into();
                validate($what, &raw)?;
                Ok(Self(raw))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

gateway_ref!(
    /// The gateway's customer (Stripe `cus_...`): one per Tariff account, holding the
    /// payment methods saved for renewals.
    GatewayCustomerId,
    "customer id"
);
gateway_ref!(
    /// A payment method saved at the gateway for off-session charges (Stripe `pm_...`).
    PaymentMethodRef,
    "payment method"
);
gateway_ref!(
    /// One payment attempt at the gateway (Stripe PaymentIntent `pi_...`): what a
    /// payment record points to and what a refund is made against.
    PaymentReference,
    "payment reference"
);
gateway_ref!(
    /// A hosted checkout page (Stripe Checkout Session `cs_...`).
    CheckoutSessionId,
    "checkout session id"
);
gateway_ref!(
    /// A refund at the gateway (Stripe `re_...`).
    RefundId,
    "refund id"
);
gateway_ref!(
    /// A captured charge at the gateway (Stripe `ch_...`); refunds are reported per charge.
    ChargeId,
    "charge id"
);
gateway_ref!(
    /// An inbound event's id (Stripe `evt_...`): what makes a redelivery recognisable.
    GatewayEventId,
    "event id"
);
gateway_ref!(
    /// The key that makes a write at the gateway happen once however often it is sent:
    /// a retry with the same key returns the first answer. Derive it from what the write
    /// is for (`order-42-checkout`, `renewal-42-attempt-2`), never from the time.
    IdempotencyKey,
    "idempotency key"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_non_empty_printable_ascii_of_bounded_length() {
        assert_eq!(
            PaymentReference::new("").unwrap_err(),
            InvalidGatewayRef::Empty("payment reference")
        );
        assert_eq!(
            IdempotencyKey::new("order 1").unwrap_err(),
            InvalidGatewayRef::BadCharacter("idempotency key")
        );
        assert_eq!(
            RefundId::new("re_é").unwrap_err(),
            InvalidGatewayRef::BadCharacter("refund id")
        );
        assert!(IdempotencyKey::new("k".repeat(255)).is_ok());
        assert!(matches!(
            IdempotencyKey::new("k".repeat(256)),
            Err(InvalidGatewayRef::TooLong { max: 255, .. })
        ));
        assert_eq!(
            GatewayCustomerId::new("cus_123").unwrap().as_str(),
            "cus_123"
        );
    }
}
