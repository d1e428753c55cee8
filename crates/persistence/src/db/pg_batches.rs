//! PostgreSQL activations in batches: a few threads ("lanes"), each owning one
//! connection, run the activations queued for them together in one transaction, each in
//! its own savepoint, then number the whole batch and commit once (group commit).
//!
//! Why: gapless invoice numbers need the year's counter row locked from the moment a
//! number is taken until the transaction that took it commits, and a commit waits for
//! its WAL flush. One activation per commit caps a year's activations at one per flush.
//! Here a batch's activations do all their writes without the counter (writing a
//! placeholder where the number goes, see `crate::orders::batched`); then the batch
//! takes one number per activation with one `UPDATE`, writes them over the placeholders
//! with one statement, and commits. The counter is held for those two statements and
//! one commit, shared by the batch; while one lane holds it, the others run their
//! activations.
//!
//! - A lane is chosen by the account's change shard, so two lanes of an instance never
//!   write the same account's rows (or bump the same change shard), and a batch never
//!   waits for another lane's batch except on the counter, which each takes last.
//! - A batch runs its activations in account order (an account's in the order they
//!   came), so batches of two instances that wait on each other's accounts wait in one
//!   order and cannot deadlock.
//! - An activation that fails rolls back to its savepoint alone and answers its own
//!   error; its placeholder is dropped, so it takes no number.
//! - A caller hears success only after its batch committed; if numbering or the commit
//!   fails, every activation of the batch fails (and no number was used).
//! - A queued activation waits as long as the batches ahead of it in its lane take: it
//!   is not dropped for waiting (a lane is one connection working through its queue, and
//!   an account's activations all wait in one lane, so a burst for one account takes as
//!   long as it takes). A lane that cannot reach the database answers the batch
//!   `Unavailable` at once.

use std::ops::Range;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Mutex, PoisonError};

use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::pg::PgConnection;
use diesel::r2d2::R2D2Connection;
use diesel::Connection;
use tariff_domain::webhooks::EventId;
use tariff_domain::{AccountRef, RepoError};

use super::conn::DbConn;
use crate::errors::{map_diesel_error, DbError};
use crate::orders::{Deferred, Issued, Numbering};

/// How many lanes (connections) run activations. Each runs its batch's activations one
/// after another, so one lane alone is limited by its round trips; a few keep the
/// counter busy while the others prepare their next batch.
pub(crate) const LANES: usize = 3;

/// At most this many activations share one batch, which bounds how long the first of
/// them waits for the last.
const MAX_BATCH: usize = 32;

/// What a queued activation is given: its turn on the connection (with the batch's
/// placeholders), or the reason it has none.
enum Turn<'a, 'c> {
    Run(&'a mut DbConn<'c>, &'a Deferred),
    Skip(RepoError),
}

/// An activation that ran: whether its savepoint is kept, and how to answer its caller
/// once the batch's commit is known (with the numbers it was given).
struct Ran {
    keep: bool,
    answer: Box<dyn FnOnce(Result<Vec<Issued>, RepoError>) + Send>,
}

/// The account an activation writes: a batch sorts and deduplicates by it.
type AccountKey = (bool, i64);

struct Job {
    account: AccountKey,
    run: Box<dyn FnOnce(Turn<'_, '_>) -> Option<Ran> + Send>,
}

/// The handle `Database` keeps; dropping the last one stops the lanes once their queues
/// are empty.
pub(crate) struct PgBatches {
    lanes: Vec<Mutex<Sender<Job>>>,
}

impl PgBatches {
    /// Starts the lanes for the database at `url` (connections open on first use).
    pub(crate) fn start(url: &str) -> std::io::Result<PgBatches> {
        let mut lanes = Vec::with_capacity(LANES);
        for lane in 0..LANES {
            let (jobs, queue) = mpsc::channel();
            let worker = Lane {
                url: url.to_owned(),
                conn: None,
                // Placeholders of different lanes and instances never collide.
                nonce: EventId::generate().as_str().to_owned(),
            };
            std::thread::Builder::new()
                .name(format!("pg-activations-{lane}"))
                .spawn(move || worker.serve(queue))?;
            lanes.push(Mutex::new(jobs));
        }
        Ok(PgBatches { lanes })
    }

    /// Queues `work`, an activation of `account`, and waits for its batch's commit;
    /// returns its result and the invoice numbers its placeholders were given.
    pub(crate) async fn activate<T, F>(
        &self,
        account: AccountRef,
        work: F,
    ) -> Result<(T, Vec<Issued>), RepoError>
    where
        F: FnOnce(&mut DbConn<'_>, Numbering<'_>) -> Result<T, DbError> + Send + 'static,
        T: Send + 'static,
    {
        type Reply<T> = Result<(T, Vec<Issued>), RepoError>;
        let (reply, answer) = tokio::sync::oneshot::channel::<Reply<T>>();
        let run = move |turn: Turn<'_, '_>| match turn {
            Turn::Skip(reason) => {
                let _ = reply.send(Err(reason));
                None
            }
            Turn::Run(conn, deferred) => {
                let result = work(conn, Numbering::Batched(deferred)).map_err(RepoError::from);
                Some(Ran {
                    keep: result.is_ok(),
                    answer: Box::new(move |committed| {
                        let _ = reply.send(match (committed, result) {
                            (Ok(issued), Ok(value)) => Ok((value, issued)),
                            (_, Err(failed)) | (Err(failed), Ok(_)) => Err(failed),
                        });
                    }),
                })
            }
        };
        let is_org = matches!(account, AccountRef::Org(_));
        let job = Job {
            account: (is_org, account.raw_id()),
            run: Box::new(run),
        };
        let lane = &self.lanes[lane_of(account)];
        let sent = lane
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .send(job);
        if sent.is_err() {
            return Err(RepoError::internal("the activation batches have stopped"));
        }
        answer
            .await
            .map_err(|_| RepoError::internal("an activation failed in its batch"))?
    }
}

/// The lane of `account`: by its change shard (the formula of migration
/// `000002_change_shards`), so a lane's accounts share no shard with another's.
fn lane_of(account: AccountRef) -> usize {
    let org = i64::from(matches!(account, AccountRef::Org(_)));
    let shard = account
        .raw_id()
        .wrapping_mul(2)
        .wrapping_add(org)
        .rem_euclid(64);
    usize::try_from(shard).unwrap_or(0) % LANES
}

/// One lane's thread state.
struct Lane {
    url: String,
    conn: Option<PgConnection>,
    nonce: String,
}

impl Lane {
    fn serve(mut self, queue: Receiver<Job>) {
        while let Ok(first) = queue.recv() {
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match queue.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            let mut live = batch;
            // Stable: an account's activations keep their order.
            live.sort_by_key(|job| job.account);
            let mut conn = match self.conn.take() {
                Some(conn) => conn,
                None => match PgConnection::establish(&self.url) {
                    Ok(conn) => conn,
                    Err(reason) => {
                        let reason = reason.to_string();
                        for job in live {
                            skip(job, unavailable(&reason));
                        }
                        continue;
                    }
                },
            };
            let healthy = commit_batch(&mut conn, &self.nonce, live);
            // A connection left in doubt is dropped; the next batch opens a new one.
            if healthy && !conn.is_broken() {
                self.conn = Some(conn);
            }
        }
    }
}

fn unavailable(reason: &str) -> RepoError {
    RepoError::Unavailable(reason.to_owned().into())
}

fn skip(job: Job, reason: RepoError) {
    let _ = (job.run)(Turn::Skip(reason));
}

/// Why a whole batch failed, in a form every activation of it can be answered with: the
/// database was unreachable (503) or something else went wrong (500), and what.
type BatchFailure = (bool, String);

fn failure(err: RepoError) -> BatchFailure {
    match err {
        RepoError::Unavailable(cause) => (true, cause.to_string()),
        other => (false, other.to_string()),
    }
}

/// Runs `jobs` in one transaction, each in its own savepoint, numbers what they left to
/// the batch, commits, and answers them. Returns false when the connection should not
/// be used again.
fn commit_batch(conn: &mut PgConnection, nonce: &str, jobs: Vec<Job>) -> bool {
    type Manager = AnsiTransactionManager;
    let opened = <Manager as TransactionManager<PgConnection>>::begin_transaction(conn)
        .map_err(|e| failure(map_diesel_error(e)))
        .and_then(|()| Deferred::open(conn, nonce).map_err(|e| failure(RepoError::from(e))));
    let deferred = match opened {
        Ok(deferred) => deferred,
        Err((_, reason)) => {
            let _ = <Manager as TransactionManager<PgConnection>>::rollback_transaction(conn);
            for job in jobs {
                skip(job, unavailable(&reason));
            }
            return false;
        }
    };
    let mut healthy = true;
    let mut ran: Vec<(Ran, Range<usize>)> = Vec::with_capacity(jobs.len());
    for job in jobs {
        if !healthy
            || <Manager as TransactionManager<PgConnection>>::begin_transaction(conn).is_err()
        {
            healthy = false;
            skip(
                job,
                RepoError::internal("the activation batch was abandoned"),
            );
            continue;
        }
        let start = deferred.len();
        deferred.begin(job.account);
        // A panicking activation drops its answer channel (its caller hears an error)
        // and abandons the batch: the connection's state is unknown.
        let run = || {
            let mut writer = DbConn::Postgres(&mut *conn);
            (job.run)(Turn::Run(&mut writer, &deferred))
        };
        match catch_unwind(AssertUnwindSafe(run)) {
            Ok(Some(done)) => {
                let ended = if done.keep {
                    <Manager as TransactionManager<PgConnection>>::commit_transaction(conn)
                } else {
                    deferred.truncate(start);
                    <Manager as TransactionManager<PgConnection>>::rollback_transaction(conn)
                };
                healthy &= ended.is_ok();
                ran.push((done, start..deferred.len()));
            }
            Ok(None) | Err(_) => healthy = false,
        }
    }
    let committed: Result<Vec<Issued>, BatchFailure> = if healthy {
        match deferred.issue(conn) {
            Ok(issued) => <Manager as TransactionManager<PgConnection>>::commit_transaction(conn)
                .map(|()| issued)
                .map_err(|e| failure(map_diesel_error(e))),
            Err(e) => {
                let _ = <Manager as TransactionManager<PgConnection>>::rollback_transaction(conn);
                Err(failure(RepoError::from(e)))
            }
        }
    } else {
        let _ = <Manager as TransactionManager<PgConnection>>::rollback_transaction(conn);
        Err((false, "the activation batch was abandoned".to_owned()))
    };
    let ok = committed.is_ok();
    for (done, numbers) in ran {
        let answer = match &committed {
            Ok(issued) => Ok(issued
                .get(numbers)
                .map(<[Issued]>::to_vec)
                .unwrap_or_default()),
            Err((true, why)) => Err(unavailable(why)),
            Err((false, why)) => Err(RepoError::internal(why.clone())),
        };
        (done.answer)(answer);
    }
    healthy && ok
}
