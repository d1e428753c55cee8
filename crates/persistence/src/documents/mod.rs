//! `DocumentStore` on diesel: the `documents` table of issued PDFs. Rows are only ever
//! inserted, never updated: the first version written for a kind and owner is kept
//! (`ON CONFLICT DO NOTHING` on the primary key), so concurrent or repeated issuing
//! always ends with one stored version, and every reader gets that one.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::dsl::{exists, not};
use diesel::prelude::*;
use tariff_domain::documents::{DocumentKind, DocumentStore, StoredDocument};
use tariff_domain::{OrderId, RepoError};

use crate::db::{Columns, Database};
use crate::errors::DbError;
use crate::schema::{documents, orders};

/// A `documents` row.
#[derive(Queryable, Selectable, Insertable, Debug, Clone)]
#[diesel(table_name = documents)]
struct DocumentRow {
    kind: String,
    owner_id: i64,
    number: String,
    sha256: String,
    content: Vec<u8>,
    created_at: NaiveDateTime,
}

impl DocumentRow {
    fn from_domain(document: &StoredDocument) -> DocumentRow {
        DocumentRow {
            kind: document.kind().as_str().to_owned(),
            owner_id: document.owner_id(),
            number: document.number().to_owned(),
            sha256: document.sha256_hex(),
            content: document.content().to_vec(),
            created_at: document.created_at().naive_utc(),
        }
    }

    fn into_domain(self) -> Result<StoredDocument, RepoError> {
        let kind =
            DocumentKind::parse(&self.kind).map_err(|e| RepoError::internal(e.to_string()))?;
        StoredDocument::restore(
            kind,
            self.owner_id,
            self.number,
            &self.sha256,
            self.content,
            DateTime::<Utc>::from_naive_utc_and_offset(self.created_at, Utc),
        )
    }
}

/// Issued documents stored in the database, shared by every instance.
#[derive(Clone)]
pub struct DieselDocumentStore {
    db: Database,
}

impl DieselDocumentStore {
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[async_trait]
impl DocumentStore for DieselDocumentStore {
    async fn get(
        &self,
        kind: DocumentKind,
        owner_id: i64,
    ) -> Result<Option<StoredDocument>, RepoError> {
        let row: Option<DocumentRow> = self
            .db
            .query(move |conn| {
                conn.get_result(
                    documents::table
                        .find((kind.as_str(), owner_id))
                        .select(DocumentRow::columns()),
                )
                .optional()
                .map_err(DbError::from)
            })
            .await?;
        row.map(DocumentRow::into_domain).transpose()
    }

    async fn insert_if_absent(
        &self,
        document: StoredDocument,
    ) -> Result<StoredDocument, RepoError> {
        let row = DocumentRow::from_domain(&document);
        let kind = document.kind();
        let owner_id = document.owner_id();
        let inserted = self
            .db
            .write(move |conn| {
                conn.write_transaction(|c| {
                    // No conflict target: a concurrent insert of the same document
                    // collides on (kind, number) as well as on the key, and PostgreSQL
                    // raises a conflict on an index that is not the target.
                    let inserted = c.execute(
                        diesel::insert_into(documents::table)
                            .values(&row)
                            .on_conflict_do_nothing(),
                    )?;
                    Ok(inserted == 1)
                })
            })
            .await?;
        if inserted {
            return Ok(document);
        }
        // Someone stored it first: theirs is the document.
        self.get(kind, owner_id).await?.ok_or_else(|| {
            RepoError::internal(format!("{kind} {owner_id} neither inserted nor found"))
        })
    }

    async fn invoices_missing(&self, after: i64, limit: u32) -> Result<Vec<OrderId>, RepoError> {
        let ids: Vec<i64> = self
            .db
            .query(move |conn| {
                conn.load(
                    orders::table
                        .filter(orders::invoice_number.is_not_null())
                        .filter(orders::id.gt(after))
                        .filter(not(exists(
                            documents::table
                                .filter(documents::kind.eq(DocumentKind::Invoice.as_str()))
                                .filter(documents::owner_id.eq(orders::id)),
                        )))
                        .order(orders::id.asc())
                        .limit(i64::from(limit))
                        .select(orders::id),
                )
                .map_err(DbError::from)
            })
            .await?;
        ids.into_iter()
            .map(|id| {
                OrderId::new(id)
                    .ok_or_else(|| RepoError::internal(format!("order id {id} invalid")))
            })
            .collect()
    }
}
