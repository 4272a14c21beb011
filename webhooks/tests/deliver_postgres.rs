//! Two engine instances on one Postgres outbox deliver 10,000 messages
//! between them over real HTTP on 127.0.0.1, none of them twice.
#![cfg(all(feature = "deliver", feature = "sqlite", feature = "postgres"))]
#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

#[path = "deliver/harness.rs"]
mod harness;
#[path = "services/postgres.rs"]
mod services;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use harness::{ManualClock, Receiver, Seen, serve};
use palisade_webhooks::Secret;
use palisade_webhooks::deliver::Engine;
use palisade_webhooks::deliver::connect::AddressPolicy;
use palisade_webhooks::store::{EventType, NewEndpoint, NewMessage, PostgresStore, Store};

const MESSAGES: usize = 10_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_the_work_and_deliver_each_message_once() {
    let Some(db) = services::fresh_database("two_instances_share_the_work").await else {
        return;
    };
    let clock = ManualClock::new();
    let seen = Arc::new(Seen::default());
    let secret = Secret::generate();
    let addr = serve(Receiver {
        seen: seen.clone(),
        secret: secret.clone(),
        clock: clock.clone(),
    })
    .await;

    let store = Arc::new(PostgresStore::connect(db.url()).await.unwrap());
    store
        .create_event_type(
            EventType {
                name: "order.paid".into(),
                description: String::new(),
                schema: None,
            },
            clock.now(),
        )
        .await
        .unwrap();
    store
        .create_endpoint(
            NewEndpoint {
                application: "app".into(),
                url: format!("http://{addr}/ok"),
                description: String::new(),
                event_types: None,
                channels: None,
                secret,
                rate_limit: None,
                max_concurrency: None,
                ordered: false,
                headers: vec![],
            },
            clock.now(),
        )
        .await
        .unwrap();

    let engine = |name: &str, store: Arc<PostgresStore>| {
        let clock = clock.clone();
        Engine::builder(store)
            .address_policy(AddressPolicy::new().allow_net("127.0.0.0/8".parse().unwrap()))
            .clock(move || clock.now())
            .instance(name)
            .batch_size(50)
            .poll_interval(Duration::from_millis(10))
            .build()
            .unwrap()
    };
    // Each instance with its own pool, as two processes would have.
    let a = engine("a", store.clone()).start();
    let b = engine(
        "b",
        Arc::new(PostgresStore::connect(db.url()).await.unwrap()),
    )
    .start();

    // Publish while both deliver, in transactions of 500 (the outbox pattern).
    let mut ids = Vec::with_capacity(MESSAGES);
    for chunk in 0..MESSAGES / 500 {
        let mut tx = store.pool().begin().await.unwrap();
        for n in 0..500 {
            let message = NewMessage {
                application: "app".into(),
                event_type: "order.paid".into(),
                channels: vec![],
                payload: format!(r#"{{"n":{}}}"#, chunk * 500 + n).into(),
                idempotency_key: None,
            };
            ids.push(
                store
                    .publish_in(&mut tx, message, clock.now())
                    .await
                    .unwrap()
                    .message_id,
            );
        }
        tx.commit().await.unwrap();
    }

    let received = || seen.by_path.lock().unwrap().get("ok").map_or(0, Vec::len);
    for _ in 0..12_000 {
        if received() >= MESSAGES {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let report_a = a.shutdown(Duration::from_secs(5)).await;
    let report_b = b.shutdown(Duration::from_secs(5)).await;

    let got = seen
        .by_path
        .lock()
        .unwrap()
        .get("ok")
        .cloned()
        .unwrap_or_default();
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for id in &got {
        *counts.entry(id.as_str()).or_default() += 1;
    }
    let missing = ids
        .iter()
        .filter(|id| !counts.contains_key(id.as_str()))
        .count();
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert_eq!(missing, 0, "every message arrived");
    assert!(
        twice.is_empty(),
        "no lease expired, so nothing is sent twice: {twice:?}"
    );
    assert_eq!(seen.rejected.load(std::sync::atomic::Ordering::SeqCst), 0);
    assert_eq!(report_a.released + report_b.released, 0);
    let stats = store.stats(clock.now()).await.unwrap();
    assert_eq!(stats.waiting, 0);
    drop(store);
}
