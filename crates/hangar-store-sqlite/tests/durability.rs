//! Crash durability: a child process writes as fast as it can and is killed
//! with SIGKILL; every write it acknowledged must be in the reopened database,
//! and the history must be gap-free and agree with the current state.
//!
//! The child is this same test binary, re-executed with
//! `HANGAR_STORE_CRASH_CHILD_DB` set so that `crash_child_writer` runs the
//! write loop instead of returning at once.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use hangar_store::{Op, Revision, Store, Txn, WatchEventKind};
use hangar_store_sqlite::SqliteStore;

const CHILD_ENV: &str = "HANGAR_STORE_CRASH_CHILD_DB";
const CHILD_TASKS: usize = 4;
/// Acknowledged writes to collect before killing the child.
const ACKS_BEFORE_KILL: usize = 1000;
/// Written by the verifier after the crash to mark the end of history.
const MARKER_KEY: &str = "/verify-marker";
const WAIT: Duration = Duration::from_secs(60);

/// What the child reports after each acknowledged write.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ack {
    /// `put KEY` committed at the revision.
    Put { revision: Revision, key: String },
    /// Txn putting `key` and deleting `deleted` committed at the revision.
    PutAndDelete {
        revision: Revision,
        key: String,
        deleted: String,
    },
}

impl Ack {
    fn parse(line: &str) -> Option<Ack> {
        let mut words = line.strip_prefix("ack ")?.split(' ');
        let revision = words.next()?.parse().ok()?;
        match (words.next()?, words.next()?, words.next()) {
            ("put", key, None) => Some(Ack::Put {
                revision,
                key: key.to_string(),
            }),
            ("txn", key, Some(deleted)) => Some(Ack::PutAndDelete {
                revision,
                key: key.to_string(),
                deleted: deleted.to_string(),
            }),
            _ => None,
        }
    }

    fn revision(&self) -> Revision {
        match self {
            Ack::Put { revision, .. } | Ack::PutAndDelete { revision, .. } => *revision,
        }
    }
}

fn value_of(key: &str) -> Vec<u8> {
    format!("value of {key}").into_bytes()
}

/// Child side: only active when re-executed by `acknowledged_writes_survive_sigkill`.
#[test]
fn crash_child_writer() {
    let Some(db) = std::env::var_os(CHILD_ENV) else {
        return; // Normal test run: this is only the child half of the crash test.
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(write_until_killed(PathBuf::from(db)));
}

async fn write_until_killed(db: PathBuf) {
    let store = Arc::new(SqliteStore::open(&db).unwrap());
    let mut tasks = Vec::new();
    for task in 0..CHILD_TASKS {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut out = std::io::stdout();
            for i in 1u64.. {
                let key = format!("/crash/{task}/{i:08}");
                let line = if i % 5 == 0 {
                    let deleted = format!("/crash/{task}/{:08}", i - 1);
                    let txn = Txn::new().then(vec![
                        Op::put(key.clone(), value_of(&key)),
                        Op::delete(deleted.clone()),
                    ]);
                    let revision = store.txn(txn).await.unwrap().revision;
                    format!("ack {revision} txn {key} {deleted}\n")
                } else {
                    let revision = store.put(&key, value_of(&key)).await.unwrap();
                    format!("ack {revision} put {key}\n")
                };
                // One write call per line so lines from tasks never interleave.
                out.write_all(line.as_bytes()).unwrap();
                out.flush().unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
}

/// Parent side: run the child, SIGKILL it mid-stream, verify the database.
#[test]
fn acknowledged_writes_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("state.db");
    let acks = run_child_and_kill(&db);
    assert!(
        acks.len() >= ACKS_BEFORE_KILL,
        "collected only {} acks",
        acks.len()
    );

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(verify(&db, &acks));
}

fn run_child_and_kill(db: &Path) -> Vec<Ack> {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "crash_child_writer",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, db)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("re-executing the test binary as the crash child");
    let stdout = child.stdout.take().unwrap();
    let (lines_tx, lines) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });

    let deadline = Instant::now() + WAIT;
    let mut acks = Vec::new();
    while acks.len() < ACKS_BEFORE_KILL {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) => acks.extend(Ack::parse(&line)),
            Err(err) => {
                let _ = child.kill();
                panic!(
                    "child stopped acknowledging writes after {} acks: {err}",
                    acks.len()
                );
            }
        }
    }
    // Child::kill sends SIGKILL on Unix: no destructors, no clean shutdown.
    child.kill().expect("sending SIGKILL to the child");
    let status = child.wait().unwrap();
    assert!(
        !status.success(),
        "the child must have been killed, got {status}"
    );
    // Lines already written to the pipe were acknowledged too.
    reader.join().unwrap();
    acks.extend(lines.try_iter().filter_map(|line| Ack::parse(&line)));
    acks
}

async fn verify(db: &Path, acks: &[Ack]) {
    let journal_mode: String = rusqlite::Connection::open(db)
        .unwrap()
        .query_row("PRAGMA journal_mode", [], |row| row.get(0))
        .unwrap();
    assert_eq!(journal_mode, "wal", "the store must run SQLite in WAL mode");
    let store = SqliteStore::open(db).expect("reopening after the crash");
    let current = store.current_revision().await.unwrap();
    let last_acked = acks.iter().map(Ack::revision).max().unwrap();
    assert!(
        current >= last_acked,
        "revision {current} is behind acknowledged {last_acked}"
    );

    // Replay the whole history: one entry per revision 1..=current, no gap.
    // A marker written after the check bounds the replay.
    let mut stream = store.watch("", 1).await.unwrap();
    let marker = store.put(MARKER_KEY, Vec::new()).await.unwrap();
    assert_eq!(marker, current + 1);
    let mut by_revision: BTreeMap<Revision, Vec<(WatchEventKind, String, Vec<u8>)>> =
        BTreeMap::new();
    let mut model: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    loop {
        let event = tokio::time::timeout(WAIT, stream.next())
            .await
            .expect("history replay stalled")
            .expect("history replay ended")
            .expect("history replay failed");
        if event.kv.key == MARKER_KEY {
            break;
        }
        match event.kind {
            WatchEventKind::Put => model.insert(event.kv.key.clone(), event.kv.value.clone()),
            WatchEventKind::Delete => model.remove(&event.kv.key),
        };
        by_revision.entry(event.kv.mod_revision).or_default().push((
            event.kind,
            event.kv.key,
            event.kv.value,
        ));
    }
    let revisions: Vec<Revision> = by_revision.keys().copied().collect();
    let expected: Vec<Revision> = (1..=current).collect();
    assert_eq!(
        revisions, expected,
        "history must hold every revision exactly once"
    );

    // Every acknowledged write is in history exactly as acknowledged.
    for ack in acks {
        let events = &by_revision[&ack.revision()];
        let wanted = match ack {
            Ack::Put { key, .. } => vec![(WatchEventKind::Put, key.clone(), value_of(key))],
            Ack::PutAndDelete { key, deleted, .. } => vec![
                (WatchEventKind::Put, key.clone(), value_of(key)),
                (WatchEventKind::Delete, deleted.clone(), Vec::new()),
            ],
        };
        assert_eq!(
            events,
            &wanted,
            "acknowledged write at revision {}",
            ack.revision()
        );
    }

    // The current state is exactly what the history adds up to.
    let listing = store.list("/crash/").await.unwrap();
    assert_eq!(listing.revision, marker);
    let state: BTreeMap<String, Vec<u8>> = listing
        .kvs
        .into_iter()
        .map(|kv| (kv.key, kv.value))
        .collect();
    assert_eq!(
        state, model,
        "current state disagrees with the replayed history"
    );
    println!(
        "crash test: {} acknowledged writes, database at revision {current} \
         ({} written but unacknowledged at the kill)",
        acks.len(),
        current - last_acked.min(current)
    );
}
