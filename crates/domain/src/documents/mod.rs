//! Issued documents (invoices; credit notes are another kind of the same thing): their
//! bytes are rendered once, just after the number is issued, stored with their SHA-256,
//! and every later download answers exactly those bytes.
//!
//! Rendering happens after the numbering transaction commits (persistence cannot call
//! the renderer), on the [`IssueQueue`]'s worker, off the request that numbered the
//! order; a crash can leave a numbered invoice without its PDF. Two steps that nothing
//! skips make it then: the start-up backfill ([`DocumentIssuer::backfill`]) and the
//! download path, which renders and stores on first request. Rendering is
//! deterministic from the frozen snapshot and the store keeps the first version written
//! (insert-if-absent), so whichever step wins, there is only ever one version.

mod issuer;
mod model;
mod queue;

pub use issuer::{DocumentIssuer, IssueError};
pub use model::{DocumentKind, DocumentStore, StoredDocument, UnknownDocumentKind};
pub use queue::{IssueQueue, IssueWorker};
