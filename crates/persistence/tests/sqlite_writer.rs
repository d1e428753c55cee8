//! SQLite's writer thread commits queued writes in batches, each write in its own
//! savepoint. These tests hold it to what a caller relies on: an answer only after its
//! write is committed, a failed or panicking write takes nothing with it but itself,
//! and a write that waited past the acquire timeout never runs.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::time::Duration;

use diesel::prelude::*;
use diesel::sql_types::BigInt;
use tariff_domain::ConflictKind;
use tariff_domain::RepoError;
use tariff_persistence::errors::DbError;
use tariff_persistence::testing::TestDatabase;
use tariff_persistence::{Database, PoolOptions};

async fn open(test_db: &TestDatabase, options: PoolOptions) -> Database {
    let db = Database::connect(test_db.url(), &options).unwrap();
    db.write(|c| {
        Ok(c.batch_execute(
            "CREATE TABLE scratch (id INTEGER PRIMARY KEY, v BIGINT NOT NULL UNIQUE)",
        )?)
    })
    .await
    .unwrap();
    db
}

/// Inserts `v`; fails after inserting when `fail_after_insert`.
async fn insert(db: &Database, v: i64, fail_after_insert: bool) -> Result<i64, RepoError> {
    db.write(move |c| {
        c.execute(diesel::sql_query("INSERT INTO scratch (v) VALUES (?)").bind::<BigInt, _>(v))?;
        if fail_after_insert {
            return Err(DbError::Repo(RepoError::Conflict(
                ConflictKind::AlreadyExists,
            )));
        }
        Ok(v)
    })
    .await
}

async fn stored(db: &Database) -> Vec<i64> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = BigInt)]
        v: i64,
    }
    let rows: Vec<Row> = db
        .query(|c| Ok(c.load(diesel::sql_query("SELECT v FROM scratch ORDER BY v"))?))
        .await
        .unwrap();
    rows.into_iter().map(|r| r.v).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writes_commit_alone_or_not_at_all() {
    let test_db = TestDatabase::sqlite();
    let db = open(&test_db, PoolOptions::default()).await;
    // 300 writes at once: every fifth fails after its insert, and 20 pairs race for
    // the same unique value.
    let mut tasks = Vec::new();
    for v in 0..300_i64 {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            (v, insert(&db, v, v % 5 == 0).await)
        }));
    }
    for v in 1000..1020_i64 {
        for _ in 0..2 {
            let db = db.clone();
            tasks.push(tokio::spawn(
                async move { (v, insert(&db, v, false).await) },
            ));
        }
    }
    let mut acknowledged = Vec::new();
    let mut race_winners = std::collections::HashMap::new();
    for task in tasks {
        let (v, answer) = task.await.unwrap();
        match answer {
            Ok(got) => {
                assert_eq!(got, v);
                acknowledged.push(v);
                *race_winners.entry(v).or_insert(0) += 1;
            }
            Err(RepoError::Conflict(_)) => {
                assert!(v % 5 == 0 || v >= 1000, "{v} failed: it should not have");
            }
            Err(other) => panic!("{v}: {other:?}"),
        }
    }
    acknowledged.sort_unstable();
    // Exactly the acknowledged writes are stored: no failed one, no lost one.
    assert_eq!(stored(&db).await, acknowledged);
    assert_eq!(acknowledged.len(), 240 + 20);
    assert!(race_winners.iter().all(|(v, wins)| *v < 1000 || *wins == 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_panicking_write_fails_alone_and_the_writer_carries_on() {
    let test_db = TestDatabase::sqlite();
    let db = open(&test_db, PoolOptions::default()).await;
    let panicking = db.write(|c| -> Result<(), DbError> {
        c.execute(diesel::sql_query("INSERT INTO scratch (v) VALUES (-1)"))?;
        panic!("a bug in a write");
    });
    let (panicked, fine) = tokio::join!(panicking, insert(&db, 7, false));
    assert!(
        matches!(panicked, Err(RepoError::Internal(_))),
        "{panicked:?}"
    );
    // The other write either shared the abandoned batch (and heard so) or ran in its
    // own; either way nothing half-done is stored, and the writer keeps working.
    let mut expected = Vec::new();
    if fine.is_ok() {
        expected.push(7);
    }
    assert_eq!(stored(&db).await, expected);
    assert_eq!(insert(&db, 8, false).await.unwrap(), 8);
    expected.push(8);
    assert_eq!(stored(&db).await, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_write_that_waited_too_long_never_runs() {
    let test_db = TestDatabase::sqlite();
    let options = PoolOptions {
        acquire_timeout: Duration::from_millis(100),
        ..PoolOptions::default()
    };
    let db = open(&test_db, options).await;
    // The first write holds the writer for 400 ms; the second waits in the queue.
    let slow = db.write(|c| {
        std::thread::sleep(Duration::from_millis(400));
        Ok(c.execute(diesel::sql_query("INSERT INTO scratch (v) VALUES (1)"))?)
    });
    let late = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        insert(&db, 2, false).await
    };
    let (slow, late) = tokio::join!(slow, late);
    assert_eq!(slow.unwrap(), 1);
    assert!(matches!(late, Err(RepoError::Unavailable(_))), "{late:?}");
    assert_eq!(stored(&db).await, vec![1]);
}
