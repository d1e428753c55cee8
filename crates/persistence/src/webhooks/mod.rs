//! The webhook ports on diesel: endpoints and their signing keys ([`endpoints`]), the
//! outbox's delivery side ([`outbox`]), and [`store_event`], which every change that
//! emits an event calls inside its own transaction. Secrets are stored sealed
//! ([`sealing`]). Rows are apart from the domain's
//! types ([`rows`]); the statements are in [`queries`].

mod emit;
mod endpoints;
mod outbox;
mod queries;
mod rows;
mod sealing;

pub use emit::{store_event, store_events};
pub use endpoints::DieselWebhookEndpoints;
pub use outbox::DieselOutbox;
pub use sealing::{
    open_sealer, AeadSealer, InvalidSealingKey, KeySource, SealerReport, SealingKey,
    SEALING_KEY_BYTES,
};
