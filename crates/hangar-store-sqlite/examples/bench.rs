//! Quick throughput check of the SQLite store. Prints numbers; asserts nothing.
//!
//! ```text
//! cargo run --release -p hangar-store-sqlite --example bench
//! ```
//!
//! Set `HANGAR_STORE_BENCH_DIR` to put the database on a particular disk
//! (default: the system temporary directory).

use std::sync::Arc;
use std::time::Instant;

use hangar_store::{Store, StoreExt};
use hangar_store_sqlite::SqliteStore;

const SEQUENTIAL_PUTS: usize = 2_000;
const CONCURRENT_TASKS: usize = 32;
const PUTS_PER_TASK: usize = 250;
const CAS_TASKS: usize = 8;
const CAS_INCREMENTS_PER_TASK: usize = 100;
const GETS: usize = 20_000;

fn report(what: &str, count: usize, started: Instant) {
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{what:<44} {count:>7} in {seconds:>6.2}s = {:>9.0}/s",
        count as f64 / seconds
    );
}

#[tokio::main]
async fn main() {
    let dir = match std::env::var_os("HANGAR_STORE_BENCH_DIR") {
        Some(dir) => tempfile::tempdir_in(dir),
        None => tempfile::tempdir(),
    }
    .expect("creating the benchmark directory");
    let store =
        Arc::new(SqliteStore::open(&dir.path().join("bench.db")).expect("opening the store"));
    let value = vec![b'x'; 256];

    let started = Instant::now();
    for i in 0..SEQUENTIAL_PUTS {
        store
            .put(&format!("/seq/{i}"), value.clone())
            .await
            .unwrap();
    }
    report("sequential puts (one fsync each)", SEQUENTIAL_PUTS, started);

    let started = Instant::now();
    let mut tasks = Vec::new();
    for task in 0..CONCURRENT_TASKS {
        let (store, value) = (store.clone(), value.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0..PUTS_PER_TASK {
                store
                    .put(&format!("/par/{task}/{i}"), value.clone())
                    .await
                    .unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    report(
        &format!("concurrent puts ({CONCURRENT_TASKS} tasks, group commit)"),
        CONCURRENT_TASKS * PUTS_PER_TASK,
        started,
    );

    store.put_json("/counter", &0u64).await.unwrap();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CAS_TASKS {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut conflicts = 0usize;
            for _ in 0..CAS_INCREMENTS_PER_TASK {
                loop {
                    let (count, revision) =
                        store.get_json::<u64>("/counter").await.unwrap().unwrap();
                    match store
                        .cas_json("/counter", &(count + 1), revision)
                        .await
                        .unwrap()
                    {
                        Ok(_) => break,
                        Err(_) => conflicts += 1,
                    }
                }
            }
            conflicts
        }));
    }
    let mut conflicts = 0;
    for task in tasks {
        conflicts += task.await.unwrap();
    }
    report(
        &format!("CAS increments ({CAS_TASKS} tasks on one key)"),
        CAS_TASKS * CAS_INCREMENTS_PER_TASK,
        started,
    );
    let (count, _) = store.get_json::<u64>("/counter").await.unwrap().unwrap();
    println!("  counter = {count}, conflicts retried = {conflicts}");

    let started = Instant::now();
    for i in 0..GETS {
        store
            .get(&format!("/seq/{}", i % SEQUENTIAL_PUTS))
            .await
            .unwrap();
    }
    report("gets (sequential)", GETS, started);

    let started = Instant::now();
    let listing = store.list("/par/").await.unwrap();
    report("keys listed by prefix", listing.kvs.len(), started);
}
