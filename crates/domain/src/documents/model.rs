//! What is stored for an issued document, and the port that stores it.

use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::shared::ids::OrderId;
use crate::shared::repo::RepoError;

/// Which kind of issued document. The owner id's meaning depends on it: an invoice
/// belongs to its order (one invoice per order).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DocumentKind {
    /// An order's invoice; the owner id is the order id.
    Invoice,
    /// A credit note; the owner id is the credit note's id.
    CreditNote,
}

impl DocumentKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentKind::Invoice => "invoice",
            DocumentKind::CreditNote => "credit_note",
        }
    }

    /// The kind stored under `text`.
    pub fn parse(text: &str) -> Result<DocumentKind, UnknownDocumentKind> {
        match text {
            "invoice" => Ok(DocumentKind::Invoice),
            "credit_note" => Ok(DocumentKind::CreditNote),
            other => Err(UnknownDocumentKind(other.to_owned())),
        }
    }
}

impl fmt::Display for DocumentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored kind name this build does not know.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown document kind `{0}`")]
pub struct UnknownDocumentKind(pub String);

/// An issued document's bytes, as stored once and served ever after.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredDocument {
    kind: DocumentKind,
    owner_id: i64,
    number: String,
    sha256: [u8; 32],
    content: Vec<u8>,
    created_at: DateTime<Utc>,
}

impl StoredDocument {
    /// A freshly rendered document; its hash is computed here.
    pub fn new(
        kind: DocumentKind,
        owner_id: i64,
        number: String,
        content: Vec<u8>,
        created_at: DateTime<Utc>,
    ) -> StoredDocument {
        let sha256 = Sha256::digest(&content).into();
        StoredDocument {
            kind,
            owner_id,
            number,
            sha256,
            content,
            created_at,
        }
    }

    /// The invoice of an order.
    pub fn invoice(order: OrderId, number: String, content: Vec<u8>, at: DateTime<Utc>) -> Self {
        StoredDocument::new(DocumentKind::Invoice, order.get(), number, content, at)
    }

    /// A document read back from storage. `sha256` is the stored hash in hex; it must be
    /// the hash of `content`, so a damaged row is refused instead of served.
    pub fn restore(
        kind: DocumentKind,
        owner_id: i64,
        number: String,
        sha256_hex: &str,
        content: Vec<u8>,
        created_at: DateTime<Utc>,
    ) -> Result<StoredDocument, RepoError> {
        let document = StoredDocument::new(kind, owner_id, number, content, created_at);
        if document.sha256_hex() != sha256_hex {
            return Err(RepoError::internal(format!(
                "stored {kind} {owner_id} does not match its SHA-256"
            )));
        }
        Ok(document)
    }

    /// Which kind of document this is.
    pub fn kind(&self) -> DocumentKind {
        self.kind
    }

    /// The id of what the document belongs to (see [`DocumentKind`]).
    pub fn owner_id(&self) -> i64 {
        self.owner_id
    }

    /// The document's number as printed (`INV-2026-000001`).
    pub fn number(&self) -> &str {
        &self.number
    }

    /// The PDF bytes, exactly as issued.
    pub fn content(&self) -> &[u8] {
        &self.content
    }

    /// When the document was stored.
    pub fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }

    /// Lower-case hex of the SHA-256 of the content.
    pub fn sha256_hex(&self) -> String {
        hex::encode(self.sha256)
    }

    /// The strong HTTP entity tag: the quoted SHA-256 hex of the bytes.
    pub fn etag(&self) -> String {
        format!("\"{}\"", self.sha256_hex())
    }
}

impl fmt::Debug for StoredDocument {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredDocument")
            .field("kind", &self.kind)
            .field("owner_id", &self.owner_id)
            .field("number", &self.number)
            .field("sha256", &self.sha256_hex())
            .field("bytes", &self.content.len())
            .field("created_at", &self.created_at)
            .finish()
    }
}

/// Issued documents by kind and owner. Nothing is ever updated or deleted: the first
/// version stored is the document.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait DocumentStore: Send + Sync {
    /// The stored document, if any. Errors: `Unavailable`, `Internal` (also for a row
    /// whose bytes do not match its hash).
    async fn get(
        &self,
        kind: DocumentKind,
        owner_id: i64,
    ) -> Result<Option<StoredDocument>, RepoError>;

    /// Stores `document` unless one of its kind and owner exists, and returns the one
    /// stored: ours, or the one written first (a concurrent writer, or a render before a
    /// crash). Errors: `Unavailable`, `Internal`.
    async fn insert_if_absent(&self, document: StoredDocument)
        -> Result<StoredDocument, RepoError>;

    /// Ids of numbered orders above `after` whose invoice is not stored, ascending, at
    /// most `limit`. Errors: `Unavailable`, `Internal`.
    async fn invoices_missing(&self, after: i64, limit: u32) -> Result<Vec<OrderId>, RepoError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn hash_and_etag_follow_the_bytes() {
        let at = Utc.with_ymd_and_hms(2026, 11, 21, 10, 0, 0).unwrap();
        let doc = StoredDocument::invoice(
            OrderId::new(7).unwrap(),
            "INV-2026-000007".into(),
            b"abc".to_vec(),
            at,
        );
        assert_eq!(
            doc.sha256_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(doc.etag(), format!("\"{}\"", doc.sha256_hex()));
        let back = StoredDocument::restore(
            DocumentKind::Invoice,
            7,
            "INV-2026-000007".into(),
            &doc.sha256_hex(),
            b"abc".to_vec(),
            at,
        )
        .unwrap();
        assert_eq!(back, doc);
        let damaged = StoredDocument::restore(
            DocumentKind::Invoice,
            7,
            "INV-2026-000007".into(),
            &doc.sha256_hex(),
            b"abd".to_vec(),
            at,
        );
        assert!(matches!(damaged, Err(RepoError::Internal(_))));
    }

    #[test]
    fn kinds_round_trip() {
        assert_eq!(DocumentKind::parse("invoice"), Ok(DocumentKind::Invoice));
        assert!(DocumentKind::parse("receipt").is_err());
    }
}
