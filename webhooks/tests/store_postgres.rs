//! The store behaviour suite on a real Postgres, plus what only a shared
//! database has to get right: concurrent claimers, concurrent publishes,
//! concurrent migrations and ordered endpoints under races. Every test runs
//! on a fresh database (see `services/postgres.rs`).
#![cfg(feature = "postgres")]
#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

#[path = "store/suite.rs"]
mod suite;

#[path = "services/postgres.rs"]
mod services;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use palisade_webhooks::store::{
    EventType, Finished, NewEndpoint, NewMessage, Next, PostgresStore, Store, StoreError,
};
use sqlx::Row as _;

const LEASE: Duration = Duration::from_secs(3600);

async fn store_for(test: &str) -> Option<(services::TestDatabase, PostgresStore)> {
    let db = services::fresh_database(test).await?;
    let store = PostgresStore::connect(db.url()).await.expect("connect");
    Some((db, store))
}

async fn event_type(store: &PostgresStore, name: &str) {
    store
        .create_event_type(
            EventType {
                name: name.into(),
                description: String::new(),
                schema: None,
            },
            suite::t(0),
        )
        .await
        .expect("event type");
}

fn succeeded(c: &palisade_webhooks::store::Claimed) -> Finished {
    Finished {
        delivery_id: c.delivery_id,
        endpoint_id: c.endpoint_id.clone(),
        attempt: None,
        next: Next::Succeeded,
    }
}

#[tokio::test]
async fn postgres_store_behaves() {
    let Some((_db, store)) = store_for("postgres_store_behaves").await else {
        return;
    };
    suite::run(&store).await;
}

#[tokio::test]
async fn postgres_store_lifecycle() {
    let Some((_db, store)) = store_for("postgres_store_lifecycle").await else {
        return;
    };
    suite::run_lifecycle(&store).await;
}

#[tokio::test]
async fn a_rolled_back_producer_transaction_leaves_no_message() {
    let Some((_db, store)) =
        store_for("a_rolled_back_producer_transaction_leaves_no_message").await
    else {
        return;
    };
    event_type(&store, "a.b").await;
    store
        .create_endpoint(suite::endpoint("https://x.example/"), suite::t(1))
        .await
        .expect("ep");
    sqlx::query("CREATE TABLE orders (id TEXT PRIMARY KEY)")
        .execute(store.pool())
        .await
        .expect("orders");

    let mut tx = store.pool().begin().await.expect("begin");
    sqlx::query("INSERT INTO orders VALUES ('o1')")
        .execute(&mut *tx)
        .await
        .expect("order");
    let dropped = store
        .publish_in(&mut tx, suite::message("a.b", "{}"), suite::t(2))
        .await
        .expect("publish_in");
    tx.rollback().await.expect("rollback");
    assert!(store.message(&dropped.message_id).await.is_err());
    assert_eq!(store.stats(suite::t(3)).await.expect("stats").waiting, 0);

    let mut tx = store.pool().begin().await.expect("begin");
    sqlx::query("INSERT INTO orders VALUES ('o2')")
        .execute(&mut *tx)
        .await
        .expect("order");
    let kept = store
        .publish_in(&mut tx, suite::message("a.b", "{}"), suite::t(4))
        .await
        .expect("publish_in");
    tx.commit().await.expect("commit");
    assert!(store.message(&kept.message_id).await.is_ok());
    assert_eq!(store.stats(suite::t(5)).await.expect("stats").waiting, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_migrating_at_once_both_succeed() {
    let Some(db) = services::fresh_database("two_instances_migrating_at_once_both_succeed").await
    else {
        return;
    };
    let (a, b) = tokio::join!(
        PostgresStore::connect(db.url()),
        PostgresStore::connect(db.url())
    );
    let (a, b) = (a.expect("instance a"), b.expect("instance b"));
    let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _palisade_webhooks_migrations")
        .fetch_one(a.pool())
        .await
        .expect("migrations table");
    assert_eq!(applied, 2, "each migration ran once");
    // Both see the same tables.
    event_type(&a, "a.b").await;
    assert_eq!(b.event_types().await.expect("types").len(), 1);
    // A third instance starting later, on a pool of its own, finds
    // everything in place.
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect_with(db.options())
        .await
        .expect("pool");
    let c = PostgresStore::from_pool(pool).await.expect("instance c");
    assert_eq!(c.event_types().await.expect("types").len(), 1);
    let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _palisade_webhooks_migrations")
        .fetch_one(c.pool())
        .await
        .expect("migrations table");
    assert_eq!(applied, 2, "and applies nothing again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_claimers_never_get_the_same_delivery() {
    let Some((db, first)) = store_for("two_claimers_never_get_the_same_delivery").await else {
        return;
    };
    event_type(&first, "a.b").await;
    for i in 0..4 {
        first
            .create_endpoint(
                suite::endpoint(&format!("https://{i}.example/")),
                suite::t(1),
            )
            .await
            .expect("ep");
    }
    const MESSAGES: usize = 150;
    for i in 0..MESSAGES {
        first
            .publish(suite::message("a.b", &i.to_string()), suite::t(2))
            .await
            .expect("publish");
    }
    // Two instances, each with two claim loops, all at the same time.
    let second = PostgresStore::connect(db.url()).await.expect("second");
    let mut loops = Vec::new();
    for (n, store) in [first.clone(), first.clone(), second.clone(), second]
        .into_iter()
        .enumerate()
    {
        loops.push(tokio::spawn(async move {
            let mut got = Vec::new();
            // Bounded: every round claims at least one until none is left.
            for round in 0..(MESSAGES * 4) {
                let token = format!("w{n}:{round}");
                let batch = store
                    .claim(&token, suite::t(10), LEASE, 7)
                    .await
                    .expect("claim");
                if batch.is_empty() {
                    break;
                }
                got.extend(batch.iter().map(|c| c.delivery_id));
                let finished: Vec<_> = batch.iter().map(succeeded).collect();
                store
                    .finish(&token, &finished, suite::t(11), None)
                    .await
                    .expect("finish");
            }
            got
        }));
    }
    let mut seen = HashSet::new();
    let mut total = 0;
    for claimer in loops {
        for id in claimer.await.expect("claimer") {
            total += 1;
            assert!(seen.insert(id), "delivery {id} was claimed twice");
        }
    }
    assert_eq!(
        total,
        MESSAGES * 4,
        "every delivery was claimed exactly once"
    );
    let stats = first.stats(suite::t(12)).await.expect("stats");
    assert_eq!(stats.waiting, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_publishes_with_one_key_create_one_message() {
    let Some((db, store)) = store_for("concurrent_publishes_with_one_key_create_one_message").await
    else {
        return;
    };
    event_type(&store, "a.b").await;
    store
        .create_endpoint(suite::endpoint("https://x.example/"), suite::t(1))
        .await
        .expect("ep");
    let other = PostgresStore::connect(db.url()).await.expect("other");
    for key in 0..20 {
        let mut publishes = Vec::new();
        for n in 0..6 {
            let store = if n % 2 == 0 {
                store.clone()
            } else {
                other.clone()
            };
            let message = NewMessage {
                idempotency_key: Some(format!("key-{key}")),
                ..suite::message("a.b", r#"{"same":true}"#)
            };
            publishes.push(tokio::spawn(async move {
                store.publish(message, suite::t(2)).await
            }));
        }
        let mut created = 0;
        let mut ids = HashSet::new();
        for p in publishes {
            let p = p.await.expect("task").expect("publish");
            created += usize::from(p.created);
            assert_eq!(p.deliveries, 1);
            ids.insert(p.message_id);
        }
        assert_eq!(
            created, 1,
            "key-{key}: exactly one publish created the message"
        );
        assert_eq!(
            ids.len(),
            1,
            "key-{key}: every publish got the same message"
        );
    }
    let messages: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM messages")
        .fetch_one(store.pool())
        .await
        .expect("count");
    assert_eq!(messages, 20);
    assert_eq!(store.stats(suite::t(3)).await.expect("stats").waiting, 20);

    // Racing with different payloads: one wins, the others are told.
    let mut publishes = Vec::new();
    for n in 0..4 {
        let store = store.clone();
        let message = NewMessage {
            idempotency_key: Some("contested".into()),
            ..suite::message("a.b", &format!(r#"{{"n":{n}}}"#))
        };
        publishes.push(tokio::spawn(async move {
            store.publish(message, suite::t(4)).await
        }));
    }
    let mut winners = Vec::new();
    let mut conflicts = Vec::new();
    for p in publishes {
        match p.await.expect("task") {
            Ok(p) => winners.push(p.message_id),
            Err(StoreError::IdempotencyConflict { message_id, .. }) => conflicts.push(message_id),
            Err(other) => panic!("unexpected error {other}"),
        }
    }
    assert_eq!(winners.len(), 1);
    assert_eq!(conflicts, vec![winners[0].clone(); 3]);
}

/// Creates one ordered endpoint with `n` messages for it, oldest first.
async fn ordered_backlog(store: &PostgresStore, n: usize) -> (String, Vec<String>) {
    event_type(store, "a.b").await;
    let ep = store
        .create_endpoint(
            NewEndpoint {
                ordered: true,
                ..suite::endpoint("https://ordered.example/")
            },
            suite::t(1),
        )
        .await
        .expect("ep");
    let mut ids = Vec::new();
    for i in 0..n {
        ids.push(
            store
                .publish(suite::message("a.b", &i.to_string()), suite::t(2))
                .await
                .expect("publish")
                .message_id,
        );
    }
    (ep.id, ids)
}

#[tokio::test]
async fn a_claimer_never_skips_a_locked_head_of_an_ordered_endpoint() {
    let Some((_db, store)) =
        store_for("a_claimer_never_skips_a_locked_head_of_an_ordered_endpoint").await
    else {
        return;
    };
    let (endpoint_id, ids) = ordered_backlog(&store, 3).await;
    let head: i64 = store.deliveries(&ids[0]).await.expect("d")[0].id;

    // Another instance is in the middle of claiming the head: its row is
    // locked. SKIP LOCKED passes over it, but the second delivery must
    // still not be handed out.
    let mut other = store.pool().begin().await.expect("begin");
    sqlx::query("SELECT id FROM deliveries WHERE id = $1 FOR UPDATE")
        .bind(head)
        .execute(&mut *other)
        .await
        .expect("lock head");
    let claimed = store
        .claim("b:1", suite::t(3), LEASE, 10)
        .await
        .expect("claim");
    assert!(claimed.is_empty(), "took {claimed:?} past a locked head");
    other.rollback().await.expect("rollback");

    // The same while another instance holds the endpoint itself.
    let mut other = store.pool().begin().await.expect("begin");
    sqlx::query("SELECT id FROM endpoints WHERE id = $1 FOR NO KEY UPDATE")
        .bind(&endpoint_id)
        .execute(&mut *other)
        .await
        .expect("lock endpoint");
    assert!(
        store
            .claim("b:2", suite::t(3), LEASE, 10)
            .await
            .expect("claim")
            .is_empty()
    );
    other.rollback().await.expect("rollback");

    let claimed = store
        .claim("b:3", suite::t(3), LEASE, 10)
        .await
        .expect("claim");
    assert_eq!(
        claimed.iter().map(|c| &c.message_id).collect::<Vec<_>>(),
        vec![&ids[0]],
        "once free, the head and only the head"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_instances_deliver_an_ordered_endpoint_one_at_a_time_in_order() {
    let Some((db, store)) =
        store_for("racing_instances_deliver_an_ordered_endpoint_one_at_a_time_in_order").await
    else {
        return;
    };
    const MESSAGES: usize = 40;
    let (_, ids) = ordered_backlog(&store, MESSAGES).await;
    let other = PostgresStore::connect(db.url()).await.expect("other");
    let in_flight = Arc::new(AtomicUsize::new(0));
    let delivered = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut loops = Vec::new();
    for (n, s) in [store.clone(), store.clone(), other.clone(), other]
        .into_iter()
        .enumerate()
    {
        let in_flight = Arc::clone(&in_flight);
        let delivered = Arc::clone(&delivered);
        loops.push(tokio::spawn(async move {
            let mut idle = 0;
            // Bounded: stops after a run of empty claims, or after far more
            // rounds than messages.
            for round in 0..(MESSAGES * 200) {
                let token = format!("o{n}:{round}");
                let batch = s
                    .claim(&token, suite::t(10), LEASE, 5)
                    .await
                    .expect("claim");
                if batch.is_empty() {
                    idle += 1;
                    if delivered.lock().unwrap().len() == MESSAGES || idle > MESSAGES * 50 {
                        break;
                    }
                    tokio::task::yield_now().await;
                    continue;
                }
                idle = 0;
                assert_eq!(batch.len(), 1, "an ordered endpoint yields one delivery");
                let before = in_flight.fetch_add(1, Ordering::SeqCst);
                assert_eq!(before, 0, "two deliveries of an ordered endpoint in flight");
                delivered.lock().unwrap().push(batch[0].message_id.clone());
                tokio::task::yield_now().await;
                // Out of flight before the report commits, so the next
                // claim cannot overlap this one in our count.
                in_flight.fetch_sub(1, Ordering::SeqCst);
                s.finish(&token, &[succeeded(&batch[0])], suite::t(11), None)
                    .await
                    .expect("finish");
            }
        }));
    }
    for l in loops {
        l.await.expect("claimer");
    }
    assert_eq!(
        *delivered.lock().unwrap(),
        ids,
        "each once, in publish order"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publish_to_an_ordered_endpoint_waits_for_the_one_before_it() {
    let Some((_db, store)) =
        store_for("a_publish_to_an_ordered_endpoint_waits_for_the_one_before_it").await
    else {
        return;
    };
    let (_, ids) = ordered_backlog(&store, 0).await;
    assert!(ids.is_empty());
    // A producer's transaction publishes m1 and stays open.
    let mut producer = store.pool().begin().await.expect("begin");
    let first = store
        .publish_in(&mut producer, suite::message("a.b", "1"), suite::t(3))
        .await
        .expect("publish_in");
    // A second publish to the same ordered endpoint has to wait for it ...
    let second = tokio::spawn({
        let store = store.clone();
        async move { store.publish(suite::message("a.b", "2"), suite::t(3)).await }
    });
    wait_for_a_lock_wait(&store).await;
    // ... and claimers skip the endpoint meanwhile.
    assert!(
        store
            .claim("c:1", suite::t(4), LEASE, 10)
            .await
            .expect("claim")
            .is_empty()
    );
    producer.commit().await.expect("commit");
    let second = second.await.expect("task").expect("publish");
    let first_id = store.deliveries(&first.message_id).await.expect("d")[0].id;
    let second_id = store.deliveries(&second.message_id).await.expect("d")[0].id;
    assert!(
        first_id < second_id,
        "deliveries are numbered in commit order ({first_id}, {second_id})"
    );
    let claimed = store
        .claim("c:2", suite::t(5), LEASE, 10)
        .await
        .expect("claim");
    assert_eq!(claimed[0].message_id, first.message_id);
}

/// Returns once some session of this database waits for a lock (bounded).
async fn wait_for_a_lock_wait(store: &PostgresStore) {
    for _ in 0..5_000 {
        let waiting: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM pg_stat_activity \
             WHERE datname = current_database() AND wait_event_type = 'Lock')",
        )
        .fetch_one(store.pool())
        .await
        .expect("pg_stat_activity");
        if waiting {
            return;
        }
        tokio::task::yield_now().await;
    }
    panic!("the second publish never waited for the first");
}

#[tokio::test]
async fn the_schema_stores_times_as_milliseconds_and_payloads_as_bytes() {
    let Some((_db, store)) =
        store_for("the_schema_stores_times_as_milliseconds_and_payloads_as_bytes").await
    else {
        return;
    };
    event_type(&store, "a.b").await;
    let p = store
        .publish(suite::message("a.b", "\u{1F600}"), suite::t(7))
        .await
        .expect("publish");
    let row = sqlx::query("SELECT created_at, payload FROM messages WHERE id = $1")
        .bind(&p.message_id)
        .fetch_one(store.pool())
        .await
        .expect("row");
    assert_eq!(row.get::<i64, _>("created_at"), 1_800_000_007_000);
    assert_eq!(row.get::<Vec<u8>, _>("payload"), "\u{1F600}".as_bytes());
    let columns: HashMap<String, String> = sqlx::query(
        "SELECT table_name || '.' || column_name AS c, data_type FROM information_schema.columns \
         WHERE table_schema = current_schema()",
    )
    .fetch_all(store.pool())
    .await
    .expect("columns")
    .iter()
    .map(|r| (r.get("c"), r.get("data_type")))
    .collect();
    assert_eq!(columns["deliveries.due_at"], "bigint");
    assert_eq!(columns["messages.payload"], "bytea");
    assert_eq!(columns["endpoints.event_types"], "jsonb");
}

#[tokio::test]
async fn an_unreachable_postgres_is_skipped_visibly_or_fails_when_required() {
    // Port 1 on loopback: nothing listens there.
    let url = "postgres://postgres@127.0.0.1:1/postgres".to_owned();
    let mut out = Vec::new();
    let db = services::fresh_database_or_skip("probe", url.clone(), false, &mut out).await;
    assert!(db.is_none());
    let line = String::from_utf8(out).unwrap();
    assert!(
        line.starts_with(
            "SKIPPED: probe needs Postgres at postgres://postgres@127.0.0.1:1/postgres"
        ),
        "{line}"
    );
    let required = tokio::spawn(async move {
        services::fresh_database_or_skip("probe", url, true, &mut Vec::new()).await
    })
    .await;
    assert!(
        required.is_err(),
        "PALISADE_REQUIRE_SERVICES=1 makes it fail"
    );
}

#[tokio::test]
async fn endpoint_secrets_are_sealed_at_rest_and_the_key_rotates() {
    use palisade_webhooks::store::{SecretKey, SecretKeyring, StoreError};
    let Some(db) = services::fresh_database("endpoint_secrets_are_sealed_at_rest").await else {
        return;
    };
    let k1 = SecretKey::generate("k1").unwrap();
    let store = PostgresStore::connect(db.url())
        .await
        .unwrap()
        .with_keyring(SecretKeyring::new(k1.clone()));
    let new = suite::endpoint("https://sealed.example/");
    let secret = new.secret.clone();
    let ep = store.create_endpoint(new, suite::t(0)).await.unwrap();
    assert_eq!(
        store.endpoint(&ep.id).await.unwrap().secrets[0].secret,
        secret
    );
    let raw: String = sqlx::query_scalar("SELECT secret FROM endpoint_secrets")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert!(raw.starts_with("enc:v1:k1:"), "{raw}");
    assert!(!raw.contains(&secret.to_string()));
    let keyless = PostgresStore::connect(db.url()).await.unwrap();
    assert!(matches!(
        keyless.endpoint(&ep.id).await,
        Err(StoreError::Secret(_))
    ));
    let k2 = SecretKey::generate("k2").unwrap();
    let rotating = PostgresStore::connect(db.url())
        .await
        .unwrap()
        .with_keyring(SecretKeyring::new(k2.clone()).with_old(k1));
    assert_eq!(rotating.reseal_secrets().await.unwrap(), 1);
    let after = PostgresStore::connect(db.url())
        .await
        .unwrap()
        .with_keyring(SecretKeyring::new(k2));
    assert_eq!(
        after.endpoint(&ep.id).await.unwrap().secrets[0].secret,
        secret
    );
    drop((store, keyless, rotating, after));
}
