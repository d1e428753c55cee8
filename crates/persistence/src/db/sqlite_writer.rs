//! SQLite's one writer: a thread that owns the writer connection and commits the writes
//! queued for it in batches (group commit).
//!
//! Why: SQLite admits one writer, and each commit writes every page it touched to the
//! WAL again. Activations of different accounts touch the same tail pages (orders and
//! their indexes, lines, audit log, the invoice counter), so a batch writes each of them
//! once instead of once per write, and pays for one `COMMIT`.
//!
//! Each write runs in its own savepoint inside the batch's `BEGIN IMMEDIATE`: a write
//! that fails rolls back alone, and the others commit. A caller hears its answer only
//! after the batch commits; if the commit fails, every write of the batch fails. A write
//! still queued after the acquire timeout is answered `Unavailable` without running.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::r2d2::R2D2Connection;
use diesel::sqlite::SqliteConnection;
use diesel::Connection;
use tariff_domain::RepoError;

use super::conn::{DbConn, SqliteConn, SqliteWrites};
use super::pool::SqlitePragmas;
use crate::errors::{map_diesel_error, DbError};

/// At most this many writes share one transaction, which bounds how long the first of
/// them waits for the last.
const MAX_BATCH: usize = 64;

/// The WAL size, in pages, past which a commit copies the WAL back into the database
/// (SQLite's default is 1,000). The writer runs that checkpoint itself, after its
/// commit: every activation rewrites the same tail pages of the same tables and
/// indexes, and a checkpoint copies each changed page once however often it was
/// written, so ten times fewer checkpoints copy far fewer pages in all. The WAL
/// grows to about 40 MB between them.
const WAL_CHECKPOINT_PAGES: u32 = 10_000;

/// What a queued write is given: its turn on the connection, or the reason it has none.
enum Turn<'a, 'c> {
    Run(&'a mut DbConn<'c>),
    Skip(RepoError),
}

/// A write that ran: whether its savepoint is kept, and how to answer its caller once
/// the batch's commit is known.
struct Ran {
    keep: bool,
    answer: Box<dyn FnOnce(Result<(), RepoError>) + Send>,
}

struct Job {
    queued_at: Instant,
    run: Box<dyn FnOnce(Turn<'_, '_>) -> Option<Ran> + Send>,
}

/// The handle `Database` keeps; dropping the last one stops the thread once its queue
/// is empty.
pub(crate) struct SqliteWriter {
    jobs: Mutex<Sender<Job>>,
}

impl SqliteWriter {
    /// Starts the writer thread for the database at `path`.
    pub(crate) fn start(
        path: String,
        pragmas: SqlitePragmas,
        lock: Arc<Mutex<()>>,
        max_wait: Duration,
    ) -> std::io::Result<SqliteWriter> {
        let (jobs, queue) = mpsc::channel();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || {
                Batches {
                    path,
                    pragmas,
                    lock,
                    max_wait,
                    conn: None,
                }
                .serve(queue)
            })?;
        Ok(SqliteWriter {
            jobs: Mutex::new(jobs),
        })
    }

    /// Queues `work` and waits for the commit of the batch it ran in.
    pub(crate) async fn write<T, F>(&self, work: F) -> Result<T, RepoError>
    where
        F: FnOnce(&mut DbConn<'_>) -> Result<T, DbError> + Send + 'static,
        T: Send + 'static,
    {
        let (reply, answer) = tokio::sync::oneshot::channel::<Result<T, RepoError>>();
        let run = move |turn: Turn<'_, '_>| match turn {
            Turn::Skip(reason) => {
                let _ = reply.send(Err(reason));
                None
            }
            Turn::Run(conn) => {
                let result = work(conn).map_err(RepoError::from);
                Some(Ran {
                    keep: result.is_ok(),
                    answer: Box::new(move |committed| {
                        let _ = reply.send(match (committed, result) {
                            (Ok(()), result) | (Err(_), result @ Err(_)) => result,
                            (Err(failed), Ok(_)) => Err(failed),
                        });
                    }),
                })
            }
        };
        let job = Job {
            queued_at: Instant::now(),
            run: Box::new(run),
        };
        let sent = self
            .jobs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .send(job);
        if sent.is_err() {
            return Err(RepoError::internal("the database writer has stopped"));
        }
        answer
            .await
            .map_err(|_| RepoError::internal("a write failed in the database writer"))?
    }
}

/// The writer thread's state.
struct Batches {
    path: String,
    pragmas: SqlitePragmas,
    /// The process-wide writer lock: pooled connections that write take it too.
    lock: Arc<Mutex<()>>,
    max_wait: Duration,
    conn: Option<SqliteConnection>,
}

impl Batches {
    fn serve(mut self, queue: Receiver<Job>) {
        while let Ok(first) = queue.recv() {
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match queue.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            let (live, stale): (Vec<Job>, Vec<Job>) = batch
                .into_iter()
                .partition(|job| job.queued_at.elapsed() <= self.max_wait);
            for job in stale {
                skip(
                    job,
                    unavailable("timed out waiting for the database writer"),
                );
            }
            if live.is_empty() {
                continue;
            }
            let mut conn = match self.conn.take() {
                Some(conn) => conn,
                None => match self.open() {
                    Ok(conn) => conn,
                    Err(reason) => {
                        for job in live {
                            skip(job, unavailable(&reason));
                        }
                        continue;
                    }
                },
            };
            let healthy = {
                let _turn = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
                commit_batch(&mut conn, live)
            };
            // A connection left in doubt is dropped; the next batch opens a new one.
            if healthy && !conn.is_broken() {
                self.conn = Some(conn);
            }
        }
    }

    fn open(&self) -> Result<SqliteConnection, String> {
        let mut conn = SqliteConnection::establish(&self.path).map_err(|e| e.to_string())?;
        self.pragmas.apply(&mut conn).map_err(|e| e.to_string())?;
        conn.batch_execute(&format!(
            "PRAGMA wal_autocheckpoint = {WAL_CHECKPOINT_PAGES};"
        ))
        .map_err(|e| e.to_string())?;
        Ok(conn)
    }
}

fn unavailable(reason: &str) -> RepoError {
    RepoError::Unavailable(reason.to_owned().into())
}

fn skip(job: Job, reason: RepoError) {
    let _ = (job.run)(Turn::Skip(reason));
}

/// Runs `jobs` in one transaction, each in its own savepoint, and answers them after
/// the commit. Returns false when the connection should not be used again.
fn commit_batch(conn: &mut SqliteConnection, jobs: Vec<Job>) -> bool {
    type Manager = AnsiTransactionManager;
    if let Err(e) = Manager::begin_transaction_sql(conn, "BEGIN IMMEDIATE") {
        let reason = map_diesel_error(e);
        let message = reason.to_string();
        for job in jobs {
            skip(job, unavailable(&message));
        }
        return false;
    }
    let mut healthy = true;
    let mut ran: Vec<Ran> = Vec::with_capacity(jobs.len());
    for job in jobs {
        if !healthy
            || <Manager as TransactionManager<SqliteConnection>>::begin_transaction(conn).is_err()
        {
            healthy = false;
            skip(job, RepoError::internal("the write batch was abandoned"));
            continue;
        }
        // A panicking write drops its answer channel (its caller hears an error) and
        // abandons the batch: the connection's state is unknown.
        let run = || {
            let mut writer = DbConn::Sqlite(SqliteConn {
                conn: &mut *conn,
                writes: SqliteWrites::Holding,
            });
            (job.run)(Turn::Run(&mut writer))
        };
        match catch_unwind(AssertUnwindSafe(run)) {
            Ok(Some(done)) => {
                let ended = if done.keep {
                    <Manager as TransactionManager<SqliteConnection>>::commit_transaction(conn)
                } else {
                    <Manager as TransactionManager<SqliteConnection>>::rollback_transaction(conn)
                };
                healthy &= ended.is_ok();
                ran.push(done);
            }
            Ok(None) | Err(_) => healthy = false,
        }
    }
    // The failure every kept write of the batch answers with: whether the database was
    // unreachable (503) or something else went wrong (500), and what.
    let committed: Result<(), (bool, String)> = if healthy {
        <Manager as TransactionManager<SqliteConnection>>::commit_transaction(conn).map_err(|e| {
            match map_diesel_error(e) {
                RepoError::Unavailable(cause) => (true, cause.to_string()),
                other => (false, other.to_string()),
            }
        })
    } else {
        let _ = <Manager as TransactionManager<SqliteConnection>>::rollback_transaction(conn);
        Err((false, "the write batch was abandoned".to_owned()))
    };
    let ok = committed.is_ok();
    for done in ran {
        (done.answer)(committed.clone().map_err(|(unreachable, why)| {
            if unreachable {
                unavailable(&why)
            } else {
                RepoError::internal(why)
            }
        }));
    }
    healthy && ok
}
