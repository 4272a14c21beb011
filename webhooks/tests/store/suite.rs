//! The behaviour every `Store` backend must have, run against each real
//! database by `store_sqlite.rs` and `store_postgres.rs`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use palisade_webhooks::Secret;
use std::num::NonZeroU32;

use palisade_webhooks::store::{
    Attempt, AttemptBucket, AttemptResult, Buckets, DeliveryState, DisabledReason, EndpointStats,
    EventType, Finished, NewEndpoint, NewMessage, Next, Store, StoreError,
};

pub(crate) fn t(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_800_000_000 + secs)
}

pub(crate) fn endpoint(url: &str) -> NewEndpoint {
    NewEndpoint {
        application: "app".into(),
        url: url.into(),
        description: String::new(),
        event_types: None,
        channels: None,
        secret: Secret::generate(),
        rate_limit: None,
        max_concurrency: None,
        ordered: false,
        headers: vec![],
    }
}

pub(crate) fn message(event_type: &str, payload: &str) -> NewMessage {
    NewMessage {
        application: "app".into(),
        event_type: event_type.into(),
        channels: vec![],
        payload: payload.to_owned().into(),
        idempotency_key: None,
    }
}

async fn event_types(store: &dyn Store) {
    for name in ["invoice.paid", "invoice.voided", "user.created"] {
        store
            .create_event_type(
                EventType {
                    name: name.into(),
                    description: format!("{name} happened"),
                    schema: None,
                },
                t(0),
            )
            .await
            .expect("create event type");
    }
}

fn attempt(c: &palisade_webhooks::store::Claimed, at: SystemTime, status: u16) -> Attempt {
    Attempt {
        delivery_id: c.delivery_id,
        message_id: c.message_id.clone(),
        endpoint_id: c.endpoint_id.clone(),
        at,
        result: AttemptResult::Status(status),
        latency: Duration::from_millis(3),
        response_excerpt: format!("status {status}"),
    }
}

fn report(
    c: &palisade_webhooks::store::Claimed,
    at: SystemTime,
    status: u16,
    next: Next,
) -> Finished {
    Finished {
        delivery_id: c.delivery_id,
        endpoint_id: c.endpoint_id.clone(),
        attempt: Some(attempt(c, at, status)),
        next,
    }
}

/// Runs every check on a fresh, empty store.
pub(crate) async fn run(store: &dyn Store) {
    event_types(store).await;
    fan_out_follows_filters(store).await;
    idempotency(store).await;
    bad_input_stores_nothing(store).await;
    claim_finish_and_history(store).await;
    one_report_follows_its_order_for_the_failure_streak(store).await;
    endpoint_stats_buckets_and_recent_messages(store).await;
}

/// Run on its own fresh store: leases, ordering, replay, disabling, stats.
pub(crate) async fn run_lifecycle(store: &dyn Store) {
    event_types(store).await;
    leases_expire_and_release(store).await;
    ordered_endpoint_goes_one_at_a_time(store).await;
    ordered_endpoints_do_not_wait_for_each_other(store).await;
    postpone_keeps_attempts_and_replay_restarts(store).await;
    gone_and_failing_disable(store).await;
    secrets_rotate_with_overlap(store).await;
    expunge_keeps_metadata(store).await;
}

async fn fan_out_follows_filters(store: &dyn Store) {
    let all = store
        .create_endpoint(endpoint("https://a.example/all"), t(1))
        .await
        .expect("a");
    let invoices = store
        .create_endpoint(
            NewEndpoint {
                event_types: Some(vec!["invoice.paid".into(), "invoice.voided".into()]),
                ..endpoint("https://b.example/invoices")
            },
            t(2),
        )
        .await
        .expect("b");
    let eu = store
        .create_endpoint(
            NewEndpoint {
                channels: Some(vec!["eu".into()]),
                ..endpoint("https://c.example/eu")
            },
            t(3),
        )
        .await
        .expect("c");
    let other_app = store
        .create_endpoint(
            NewEndpoint {
                application: "other".into(),
                ..endpoint("https://d.example/")
            },
            t(4),
        )
        .await
        .expect("d");
    assert_eq!(
        store.endpoint(&all.id).await.expect("read").url,
        "https://a.example/all"
    );
    assert_eq!(store.endpoints(Some("app")).await.expect("list").len(), 3);
    assert_eq!(store.endpoints(None).await.expect("list").len(), 4);

    let p = store
        .publish(message("user.created", "{}"), t(10))
        .await
        .expect("publish");
    assert!(p.created);
    assert_eq!(
        p.deliveries, 1,
        "only the catch-all endpoint takes user.created"
    );
    let d = store.deliveries(&p.message_id).await.expect("deliveries");
    assert_eq!(d[0].endpoint_id, all.id);
    assert_eq!(d[0].state, DeliveryState::Pending);
    assert_eq!(d[0].next_attempt_at, Some(t(10)));

    let p = store
        .publish(
            palisade_webhooks::store::NewMessage {
                channels: vec!["eu".into(), "us".into()],
                ..message("invoice.paid", r#"{"n":1}"#)
            },
            t(11),
        )
        .await
        .expect("publish");
    let mut got: Vec<String> = store
        .deliveries(&p.message_id)
        .await
        .expect("deliveries")
        .into_iter()
        .map(|d| d.endpoint_id)
        .collect();
    got.sort();
    let mut want = vec![all.id.clone(), invoices.id.clone(), eu.id.clone()];
    want.sort();
    assert_eq!(
        got, want,
        "every matching endpoint of the application, none of another"
    );
    assert!(!got.contains(&other_app.id));

    // A disabled endpoint receives nothing published while it is disabled.
    store
        .set_disabled(&all.id, Some(DisabledReason::Manual), t(12))
        .await
        .expect("disable");
    let p = store
        .publish(message("user.created", "{}"), t(13))
        .await
        .expect("publish");
    assert_eq!(p.deliveries, 0);
    store
        .set_disabled(&all.id, None, t(14))
        .await
        .expect("enable");
    assert_eq!(store.endpoint(&all.id).await.expect("read").disabled, None);
    for e in [&all, &invoices, &eu, &other_app] {
        store.delete_endpoint(&e.id).await.expect("delete");
    }
    assert!(matches!(
        store.endpoint(&all.id).await,
        Err(StoreError::UnknownEndpoint(_))
    ));
}

async fn idempotency(store: &dyn Store) {
    let ep = store
        .create_endpoint(endpoint("https://idem.example/"), t(20))
        .await
        .expect("ep");
    let keyed = NewMessage {
        idempotency_key: Some("order-7".into()),
        ..message("invoice.paid", r#"{"order":7}"#)
    };
    let first = store.publish(keyed.clone(), t(21)).await.expect("first");
    let again = store.publish(keyed.clone(), t(22)).await.expect("again");
    assert!(first.created);
    assert!(!again.created);
    assert_eq!(first.message_id, again.message_id);
    assert_eq!(again.deliveries, 1);
    assert_eq!(
        store.deliveries(&first.message_id).await.expect("d").len(),
        1,
        "one delivery, not two"
    );

    let different = NewMessage {
        payload: r#"{"order":8}"#.into(),
        ..keyed.clone()
    };
    match store.publish(different, t(23)).await {
        Err(StoreError::IdempotencyConflict { key, message_id }) => {
            assert_eq!(key, "order-7");
            assert_eq!(message_id, first.message_id);
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    // The same key in another application is another message.
    let other = store
        .publish(
            NewMessage {
                application: "other".into(),
                ..keyed
            },
            t(24),
        )
        .await
        .expect("other app");
    assert!(other.created);
    store.delete_endpoint(&ep.id).await.expect("delete");
}

async fn bad_input_stores_nothing(store: &dyn Store) {
    let ep = store
        .create_endpoint(endpoint("https://bad.example/"), t(30))
        .await
        .expect("ep");
    let before = store.stats(t(30)).await.expect("stats");
    let err = store
        .publish(message("no.such.type", "{}"), t(31))
        .await
        .expect_err("unknown type");
    assert!(
        matches!(err, StoreError::UnknownEventType(ref n) if n == "no.such.type"),
        "{err}"
    );
    assert_eq!(err.to_string(), "unknown event type `no.such.type`");
    assert_eq!(
        store.stats(t(31)).await.expect("stats"),
        before,
        "no delivery was queued"
    );
    assert!(matches!(
        store
            .create_event_type(
                EventType {
                    name: "invoice.paid".into(),
                    description: String::new(),
                    schema: None
                },
                t(32)
            )
            .await,
        Err(StoreError::EventTypeExists(_))
    ));
    assert!(matches!(
        store.message("msg_nope").await,
        Err(StoreError::UnknownMessage(_))
    ));
    assert!(matches!(
        store.set_disabled("ep_nope", None, t(33)).await,
        Err(StoreError::UnknownEndpoint(_))
    ));
    assert!(matches!(
        store.replay_dead("ep_nope", t(0), t(33)).await,
        Err(StoreError::UnknownEndpoint(_))
    ));
    store.delete_endpoint(&ep.id).await.expect("delete");
}

async fn claim_finish_and_history(store: &dyn Store) {
    let ep = store
        .create_endpoint(endpoint("https://claim.example/"), t(40))
        .await
        .expect("ep");
    let mut ids = Vec::new();
    for i in 0..5 {
        let p = store
            .publish(
                message("invoice.paid", &format!(r#"{{"i":{i}}}"#)),
                t(41 + i),
            )
            .await
            .expect("publish");
        ids.push(p.message_id);
    }
    // Not yet due: nothing to claim before the first publish time.
    assert!(
        store
            .claim("w0:1", t(40), Duration::from_secs(30), 10)
            .await
            .expect("claim")
            .is_empty()
    );
    let batch = store
        .claim("w1:1", t(50), Duration::from_secs(30), 3)
        .await
        .expect("claim");
    assert_eq!(batch.len(), 3, "at most the batch size");
    assert_eq!(
        batch
            .iter()
            .map(|c| c.message_id.clone())
            .collect::<Vec<_>>(),
        ids[..3].to_vec(),
        "oldest due first"
    );
    assert_eq!(batch[0].payload.as_deref(), Some(&br#"{"i":0}"#[..]));
    assert_eq!(batch[0].event_type, "invoice.paid");
    // Claimed deliveries are not handed out twice while the lease runs.
    let rest = store
        .claim("w2:1", t(51), Duration::from_secs(30), 10)
        .await
        .expect("claim");
    assert_eq!(rest.len(), 2);

    let finished = vec![
        report(&batch[0], t(52), 200, Next::Succeeded),
        report(&batch[1], t(52), 500, Next::RetryAt(t(57))),
        report(&batch[2], t(52), 400, Next::Dead),
    ];
    let disabled = store
        .finish("w1:1", &finished, t(53), None)
        .await
        .expect("finish");
    assert!(disabled.disabled.is_empty());
    let states: Vec<_> = futures_states(store, &ids[..3]).await;
    assert_eq!(
        states,
        vec![
            (DeliveryState::Succeeded, 1, None),
            (DeliveryState::FailedRetrying, 1, Some(t(57))),
            (DeliveryState::Dead, 1, None),
        ]
    );
    let history = store.attempts(&ids[1]).await.expect("attempts");
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].result, AttemptResult::Status(500));
    assert_eq!(history[0].latency, Duration::from_millis(3));
    assert_eq!(history[0].response_excerpt, "status 500");
    assert_eq!(history[0].at, t(52));

    // A report under a token that no longer holds the delivery changes
    // nothing (but the attempt is still on record).
    let stale = vec![report(&rest[0], t(54), 200, Next::Succeeded)];
    // (The endpoint did answer 200, after the 500 at t52: it recovered.)
    let recovered = store
        .finish("someone-else", &stale, t(54), None)
        .await
        .expect("finish")
        .recovered;
    assert_eq!(recovered, vec![(ep.id.clone(), ids[3].clone())]);
    assert_eq!(
        futures_states(store, &ids[3..4]).await[0].0,
        DeliveryState::Delivering
    );
    assert_eq!(store.attempts(&ids[3]).await.expect("attempts").len(), 1);

    // The retry is due at t(57), not before.
    assert!(
        store
            .claim("w1:2", t(56), Duration::from_secs(30), 10)
            .await
            .expect("claim")
            .is_empty()
    );
    let retry = store
        .claim("w1:3", t(57), Duration::from_secs(30), 10)
        .await
        .expect("claim");
    assert_eq!(retry.len(), 1);
    assert_eq!(retry[0].message_id, ids[1]);
    assert_eq!(retry[0].attempts, 1);
    let again = store
        .finish(
            "w1:3",
            &[report(&retry[0], t(58), 204, Next::Succeeded)],
            t(58),
            None,
        )
        .await
        .expect("finish")
        .recovered;
    assert!(again.is_empty(), "it was not failing any more");
    store
        .finish(
            "w2:1",
            &rest
                .iter()
                .map(|c| report(c, t(59), 200, Next::Succeeded))
                .collect::<Vec<_>>(),
            t(59),
            None,
        )
        .await
        .expect("finish");
    let stats = store.stats(t(60)).await.expect("stats");
    assert_eq!(stats.waiting, 0);
    assert_eq!(stats.dead, 1);
    assert_eq!(stats.oldest_due_at, None);
    store.delete_endpoint(&ep.id).await.expect("delete");
}

async fn futures_states(
    store: &dyn Store,
    ids: &[String],
) -> Vec<(DeliveryState, u32, Option<SystemTime>)> {
    let mut out = Vec::new();
    for id in ids {
        let d = store.deliveries(id).await.expect("deliveries");
        assert_eq!(d.len(), 1);
        let d = d[0].clone();
        out.push((
            d.state,
            d.attempts,
            d.next_attempt_at
                .filter(|_| d.state != DeliveryState::Delivering),
        ));
    }
    out
}

async fn leases_expire_and_release(store: &dyn Store) {
    let ep = store
        .create_endpoint(endpoint("https://lease.example/"), t(100))
        .await
        .expect("ep");
    let p = store
        .publish(message("invoice.paid", "{}"), t(100))
        .await
        .expect("publish");
    let first = store
        .claim("crashed:1", t(101), Duration::from_secs(30), 10)
        .await
        .expect("claim");
    assert_eq!(first.len(), 1);
    let stats = store.stats(t(102)).await.expect("stats");
    assert_eq!(stats.waiting, 1, "a delivery being delivered still waits");
    assert_eq!(stats.oldest_due_at, None, "but it is not overdue");
    // The worker dies. Until the lease ends nobody else takes the delivery ...
    assert!(
        store
            .claim("w:1", t(130), Duration::from_secs(30), 10)
            .await
            .expect("claim")
            .is_empty()
    );
    // ... then anybody does.
    let again = store
        .claim("w:2", t(131), Duration::from_secs(30), 10)
        .await
        .expect("claim");
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].message_id, p.message_id);
    // The dead worker's late report is ignored.
    store
        .finish(
            "crashed:1",
            &[report(&first[0], t(132), 200, Next::Succeeded)],
            t(132),
            None,
        )
        .await
        .expect("finish");
    assert_eq!(
        store.deliveries(&p.message_id).await.expect("d")[0].state,
        DeliveryState::Delivering
    );
    // Graceful shutdown hands the claim back, due at once.
    assert_eq!(store.release("w:2", t(133)).await.expect("release"), 1);
    let d = &store.deliveries(&p.message_id).await.expect("d")[0];
    assert_eq!(
        (d.state, d.next_attempt_at),
        (DeliveryState::Pending, Some(t(133)))
    );
    let last = store
        .claim("w:3", t(133), Duration::from_secs(30), 10)
        .await
        .expect("claim");
    store
        .finish(
            "w:3",
            &[report(&last[0], t(134), 200, Next::Succeeded)],
            t(134),
            None,
        )
        .await
        .expect("finish");
    store.delete_endpoint(&ep.id).await.expect("delete");
}

async fn ordered_endpoint_goes_one_at_a_time(store: &dyn Store) {
    let ep = store
        .create_endpoint(
            NewEndpoint {
                ordered: true,
                ..endpoint("https://ordered.example/")
            },
            t(200),
        )
        .await
        .expect("ep");
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(
            store
                .publish(message("invoice.paid", &i.to_string()), t(200))
                .await
                .expect("p")
                .message_id,
        );
    }
    let c = store
        .claim("o:1", t(201), Duration::from_secs(30), 10)
        .await
        .expect("claim");
    assert_eq!(c.len(), 1, "only the head of an ordered endpoint");
    assert_eq!(c[0].message_id, ids[0]);
    assert!(
        store
            .claim("o:2", t(201), Duration::from_secs(30), 10)
            .await
            .expect("claim")
            .is_empty()
    );
    // The head fails and waits for its retry: the next must not overtake it.
    store
        .finish(
            "o:1",
            &[report(&c[0], t(202), 500, Next::RetryAt(t(210)))],
            t(202),
            None,
        )
        .await
        .expect("finish");
    assert!(
        store
            .claim("o:3", t(205), Duration::from_secs(30), 10)
            .await
            .expect("claim")
            .is_empty()
    );
    let c = store
        .claim("o:4", t(210), Duration::from_secs(30), 10)
        .await
        .expect("claim");
    assert_eq!(c[0].message_id, ids[0]);
    // Once the head is dead, the line moves on.
    store
        .finish(
            "o:4",
            &[report(&c[0], t(211), 500, Next::Dead)],
            t(211),
            None,
        )
        .await
        .expect("finish");
    let c = store
        .claim("o:5", t(212), Duration::from_secs(30), 10)
        .await
        .expect("claim");
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].message_id, ids[1]);
    // Replaying the dead head while the next one is in flight queues it,
    // but it waits until the one in flight is done: still one at a time.
    assert_eq!(
        store.replay_message(&ids[0], t(213)).await.expect("replay"),
        1
    );
    assert!(
        store
            .claim("o:6", t(214), Duration::from_secs(30), 10)
            .await
            .expect("claim")
            .is_empty(),
        "a replayed delivery must not run beside the one in flight"
    );
    store
        .finish(
            "o:5",
            &[report(&c[0], t(215), 200, Next::Succeeded)],
            t(215),
            None,
        )
        .await
        .expect("finish");
    let c = store
        .claim("o:7", t(216), Duration::from_secs(30), 10)
        .await
        .expect("claim");
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].message_id, ids[0], "the replayed head, then the rest");
    store.release("o:7", t(216)).await.expect("release");
    store.delete_endpoint(&ep.id).await.expect("delete");
}

async fn postpone_keeps_attempts_and_replay_restarts(store: &dyn Store) {
    let ep = store
        .create_endpoint(endpoint("https://postpone.example/"), t(300))
        .await
        .expect("ep");
    let p = store
        .publish(message("invoice.paid", "{}"), t(300))
        .await
        .expect("publish");
    let c = store
        .claim("p:1", t(301), Duration::from_secs(30), 10)
        .await
        .expect("claim");
    let postponed = Finished {
        delivery_id: c[0].delivery_id,
        endpoint_id: ep.id.clone(),
        attempt: None,
        next: Next::Postpone(t(320)),
    };
    store
        .finish("p:1", &[postponed], t(301), None)
        .await
        .expect("finish");
    let d = &store.deliveries(&p.message_id).await.expect("d")[0];
    assert_eq!(
        (d.state, d.attempts, d.next_attempt_at),
        (DeliveryState::Pending, 0, Some(t(320)))
    );
    assert!(
        store.attempts(&p.message_id).await.expect("a").is_empty(),
        "a postponement is no attempt"
    );
    let c = store
        .claim("p:2", t(320), Duration::from_secs(30), 10)
        .await
        .expect("claim");
    store
        .finish(
            "p:2",
            &[report(&c[0], t(321), 500, Next::Dead)],
            t(321),
            None,
        )
        .await
        .expect("finish");
    assert_eq!(store.stats(t(322)).await.expect("s").dead, 1);
    // Replaying dead deliveries of the endpoint since before the message.
    assert_eq!(
        store
            .replay_dead(&ep.id, t(299), t(330))
            .await
            .expect("replay"),
        1
    );
    let d = &store.deliveries(&p.message_id).await.expect("d")[0];
    assert_eq!(
        (d.state, d.attempts, d.next_attempt_at),
        (DeliveryState::Pending, 0, Some(t(330)))
    );
    // Replay of a message published after `since` only.
    let c = store
        .claim("p:3", t(330), Duration::from_secs(30), 10)
        .await
        .expect("claim");
    store
        .finish(
            "p:3",
            &[report(&c[0], t(331), 500, Next::Dead)],
            t(331),
            None,
        )
        .await
        .expect("finish");
    assert_eq!(
        store
            .replay_dead(&ep.id, t(301), t(332))
            .await
            .expect("replay"),
        0
    );
    // Replaying the message re-queues it whatever its state.
    assert_eq!(
        store
            .replay_message(&p.message_id, t(333))
            .await
            .expect("replay"),
        1
    );
    assert_eq!(
        store.attempts(&p.message_id).await.expect("a").len(),
        2,
        "history is kept"
    );
    assert!(matches!(
        store.replay_message("msg_nope", t(333)).await,
        Err(StoreError::UnknownMessage(_))
    ));
    store.delete_endpoint(&ep.id).await.expect("delete");
}

async fn gone_and_failing_disable(store: &dyn Store) {
    let gone = store
        .create_endpoint(endpoint("https://gone.example/"), t(400))
        .await
        .expect("ep");
    let p = store
        .publish(message("invoice.paid", "{}"), t(400))
        .await
        .expect("publish");
    let c = store
        .claim("g:1", t(401), Duration::from_secs(30), 10)
        .await
        .expect("claim");
    let disabled = store
        .finish(
            "g:1",
            &[report(&c[0], t(401), 410, Next::Gone)],
            t(401),
            None,
        )
        .await
        .expect("finish");
    assert_eq!(disabled.disabled, vec![gone.id.clone()]);
    let e = store.endpoint(&gone.id).await.expect("read");
    assert_eq!(e.disabled, Some((DisabledReason::Gone, t(401))));
    assert_eq!(
        store.deliveries(&p.message_id).await.expect("d")[0].state,
        DeliveryState::Dead
    );
    store.delete_endpoint(&gone.id).await.expect("delete");

    let failing = store
        .create_endpoint(endpoint("https://failing.example/"), t(500))
        .await
        .expect("ep");
    let after = Some(Duration::from_secs(100));
    for (i, at) in [510, 560, 611].into_iter().enumerate() {
        store
            .publish(message("invoice.paid", &i.to_string()), t(at))
            .await
            .expect("publish");
        let c = store
            .claim(&format!("f:{i}"), t(at), Duration::from_secs(30), 10)
            .await
            .expect("claim");
        let disabled = store
            .finish(
                &format!("f:{i}"),
                &[report(&c[0], t(at), 503, Next::RetryAt(t(at + 1000)))],
                t(at),
                after,
            )
            .await
            .expect("finish");
        let e = store.endpoint(&failing.id).await.expect("read");
        assert_eq!(
            e.failing_since,
            Some(t(510)),
            "the streak started with the first failure"
        );
        if at < 611 {
            assert!(
                disabled.disabled.is_empty(),
                "failing for {}s only",
                at - 510
            );
        } else {
            assert_eq!(
                disabled.disabled,
                vec![failing.id.clone()],
                "failing for over 100s"
            );
            assert_eq!(e.disabled.map(|d| d.0), Some(DisabledReason::Failing));
        }
    }
    // A disabled endpoint's deliveries wait; nothing is claimed or lost.
    assert!(
        store
            .claim("f:x", t(5000), Duration::from_secs(30), 10)
            .await
            .expect("claim")
            .is_empty()
    );
    assert_eq!(store.stats(t(5000)).await.expect("s").waiting, 3);
    store
        .set_disabled(&failing.id, None, t(5001))
        .await
        .expect("enable");
    assert_eq!(
        store
            .endpoint(&failing.id)
            .await
            .expect("read")
            .failing_since,
        None
    );
    assert_eq!(
        store
            .claim("f:y", t(5001), Duration::from_secs(30), 10)
            .await
            .expect("claim")
            .len(),
        3
    );
    store.delete_endpoint(&failing.id).await.expect("delete");
}

async fn secrets_rotate_with_overlap(store: &dyn Store) {
    let new = endpoint("https://rotate.example/");
    let first = new.secret.clone();
    let ep = store.create_endpoint(new, t(600)).await.expect("ep");
    assert_eq!(ep.secrets.len(), 1);
    assert_eq!(ep.secrets[0].secret, first);
    let second = Secret::generate();
    store
        .rotate_secret(&ep.id, second.clone(), Duration::from_secs(3600), t(610))
        .await
        .expect("rotate");
    let e = store.endpoint(&ep.id).await.expect("read");
    assert_eq!(e.secrets.len(), 2);
    assert_eq!(e.secrets[0].secret, second, "newest first");
    assert_eq!(e.secrets[0].expires_at, None);
    assert_eq!(e.secrets[1].expires_at, Some(t(4210)));
    // A later rotation drops the secrets whose overlap has ended.
    store
        .rotate_secret(&ep.id, Secret::generate(), Duration::from_secs(60), t(5000))
        .await
        .expect("rotate");
    let e = store.endpoint(&ep.id).await.expect("read");
    assert_eq!(e.secrets.len(), 2, "the first secret expired and is gone");
    assert_eq!(e.secrets[1].secret, second);
    assert!(matches!(
        store
            .rotate_secret("ep_nope", Secret::generate(), Duration::ZERO, t(5000))
            .await,
        Err(StoreError::UnknownEndpoint(_))
    ));
    // Secrets never show in Debug output.
    assert!(!format!("{e:?}").contains(&second.to_string()));
    store.delete_endpoint(&ep.id).await.expect("delete");
}

async fn expunge_keeps_metadata(store: &dyn Store) {
    let ep = store
        .create_endpoint(endpoint("https://expunge.example/"), t(700))
        .await
        .expect("ep");
    let done = store
        .publish(message("invoice.paid", "done"), t(700))
        .await
        .expect("p");
    let waiting = store
        .publish(message("invoice.paid", "waiting"), t(701))
        .await
        .expect("p");
    let c = store
        .claim("x:1", t(702), Duration::from_secs(30), 1)
        .await
        .expect("claim");
    store
        .finish(
            "x:1",
            &[report(&c[0], t(702), 200, Next::Succeeded)],
            t(702),
            None,
        )
        .await
        .expect("finish");
    // Earlier checks left finished messages too; only this one is ours.
    assert!(store.expunge_payloads(t(800)).await.expect("expunge") >= 1);
    let m = store.message(&done.message_id).await.expect("m");
    assert_eq!(m.payload, None);
    assert_eq!(m.event_type, "invoice.paid");
    assert_eq!(store.attempts(&done.message_id).await.expect("a").len(), 1);
    assert!(
        store
            .message(&waiting.message_id)
            .await
            .expect("m")
            .payload
            .is_some()
    );
    store.delete_endpoint(&ep.id).await.expect("delete");
}

/// Several attempts to one endpoint in one report: the streak is what the
/// attempts say in the order reported, and transport errors are recorded.
async fn one_report_follows_its_order_for_the_failure_streak(store: &dyn Store) {
    let ep = store
        .create_endpoint(endpoint("https://streak.example/"), t(70))
        .await
        .expect("ep");
    let mut ids = Vec::new();
    for i in 0..4 {
        let p = store
            .publish(message("invoice.paid", &i.to_string()), t(70))
            .await
            .expect("publish");
        ids.push(p.message_id);
    }
    let c = store
        .claim("s:1", t(71), Duration::from_secs(30), 10)
        .await
        .expect("claim");
    assert_eq!(c.len(), 4);
    let timeout = Finished {
        attempt: Some(Attempt {
            result: AttemptResult::Transport("timeout".into()),
            ..attempt(&c[0], t(72), 0)
        }),
        ..report(&c[0], t(72), 0, Next::RetryAt(t(90)))
    };
    // A failure, then a success: the streak is over.
    store
        .finish(
            "s:1",
            &[timeout, report(&c[1], t(73), 200, Next::Succeeded)],
            t(73),
            None,
        )
        .await
        .expect("finish");
    assert_eq!(
        store.endpoint(&ep.id).await.expect("read").failing_since,
        None
    );
    let history = store.attempts(&ids[0]).await.expect("attempts");
    assert_eq!(
        history[0].result,
        AttemptResult::Transport("timeout".into())
    );
    // A success, then failures: a new streak from the first of them.
    store
        .finish(
            "s:1",
            &[
                report(&c[2], t(74), 200, Next::Succeeded),
                report(&c[3], t(75), 500, Next::RetryAt(t(90))),
            ],
            t(75),
            Some(Duration::from_secs(3600)),
        )
        .await
        .expect("finish");
    let e = store.endpoint(&ep.id).await.expect("read");
    assert_eq!(e.failing_since, Some(t(75)));
    assert_eq!(e.disabled, None, "failing for less than an hour");
    let states: Vec<_> = futures_states(store, &ids).await;
    assert_eq!(
        states,
        vec![
            (DeliveryState::FailedRetrying, 1, Some(t(90))),
            (DeliveryState::Succeeded, 1, None),
            (DeliveryState::Succeeded, 1, None),
            (DeliveryState::FailedRetrying, 1, Some(t(90))),
        ]
    );
    store.delete_endpoint(&ep.id).await.expect("delete");
}

async fn ordered_endpoints_do_not_wait_for_each_other(store: &dyn Store) {
    let mut endpoints = Vec::new();
    for name in ["a", "b", "c"] {
        let ep = store
            .create_endpoint(
                NewEndpoint {
                    ordered: true,
                    ..endpoint(&format!("https://{name}.ordered.example/"))
                },
                t(250),
            )
            .await
            .expect("ep");
        endpoints.push(ep.id);
    }
    // Every message goes to all three: a1 b1 c1, then a2 b2 c2.
    let first = store
        .publish(message("invoice.paid", "1"), t(251))
        .await
        .expect("p");
    let second = store
        .publish(message("invoice.paid", "2"), t(252))
        .await
        .expect("p");
    // One at a time per claim: each endpoint's head in turn, while the
    // heads already claimed are in flight.
    let mut heads = Vec::new();
    for i in 0..3 {
        let c = store
            .claim(&format!("m:{i}"), t(253), Duration::from_secs(30), 1)
            .await
            .expect("claim");
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].message_id, first.message_id);
        heads.push(c[0].clone());
    }
    let mut served: Vec<_> = heads.iter().map(|c| c.endpoint_id.clone()).collect();
    served.sort();
    let mut all = endpoints.clone();
    all.sort();
    assert_eq!(served, all, "each ordered endpoint's head, none twice");
    assert!(
        store
            .claim("m:3", t(253), Duration::from_secs(30), 10)
            .await
            .expect("claim")
            .is_empty(),
        "every second message waits for its endpoint's head"
    );
    store
        .finish(
            "m:0",
            &[report(&heads[0], t(254), 200, Next::Succeeded)],
            t(254),
            None,
        )
        .await
        .expect("finish");
    let c = store
        .claim("m:4", t(255), Duration::from_secs(30), 10)
        .await
        .expect("claim");
    assert_eq!(c.len(), 1);
    assert_eq!(
        (&c[0].message_id, &c[0].endpoint_id),
        (&second.message_id, &heads[0].endpoint_id)
    );
    for id in endpoints {
        store.delete_endpoint(&id).await.expect("delete");
    }
}

/// What the dashboard reads: each endpoint's queue and attempts in a
/// window, its attempts per time slice by outcome, its messages newest
/// first.
async fn endpoint_stats_buckets_and_recent_messages(store: &dyn Store) {
    let in_app = |url: &str| NewEndpoint {
        application: "stats".into(),
        ..endpoint(url)
    };
    let a = store
        .create_endpoint(in_app("https://a.stats.example/"), t(90))
        .await
        .expect("a");
    let b = store
        .create_endpoint(in_app("https://b.stats.example/"), t(90))
        .await
        .expect("b");
    let quiet = store
        .create_endpoint(
            NewEndpoint {
                event_types: Some(vec!["user.created".into()]),
                ..in_app("https://quiet.stats.example/")
            },
            t(90),
        )
        .await
        .expect("quiet");
    let mut ids = Vec::new();
    for i in 0..4 {
        let published = store
            .publish(
                NewMessage {
                    application: "stats".into(),
                    ..message("invoice.paid", &format!(r#"{{"n":{i}}}"#))
                },
                t(100 + i),
            )
            .await
            .expect("publish");
        assert_eq!(published.deliveries, 2, "to a and b, not quiet");
        ids.push(published.message_id);
    }
    let claimed: Vec<_> = store
        .claim("stats:1", t(110), Duration::from_secs(600), 100)
        .await
        .expect("claim")
        .into_iter()
        .filter(|c| c.endpoint_id == a.id || c.endpoint_id == b.id)
        .collect();
    assert_eq!(claimed.len(), 8);
    let of = |endpoint: &str, n: usize| {
        claimed
            .iter()
            .find(|c| c.endpoint_id == endpoint && c.message_id == ids[n])
            .expect("claimed")
    };
    let timeout = |c, at| Finished {
        attempt: Some(Attempt {
            result: AttemptResult::Transport("timeout".into()),
            ..attempt(c, at, 0)
        }),
        ..report(c, at, 0, Next::Dead)
    };
    // a: one success, one HTTP error (retrying), one timeout (dead), one
    // still in flight. b: four successes, the last at the window's end.
    let finished = vec![
        report(of(&a.id, 0), t(111), 200, Next::Succeeded),
        report(of(&a.id, 1), t(170), 500, Next::RetryAt(t(900))),
        timeout(of(&a.id, 2), t(230)),
        report(of(&b.id, 0), t(115), 204, Next::Succeeded),
        report(of(&b.id, 1), t(115), 204, Next::Succeeded),
        report(of(&b.id, 2), t(159), 204, Next::Succeeded),
        report(of(&b.id, 3), t(280), 204, Next::Succeeded),
    ];
    store
        .finish("stats:1", &finished, t(290), None)
        .await
        .expect("finish");

    let asked = [
        b.id.clone(),
        "ep_unknown".into(),
        a.id.clone(),
        quiet.id.clone(),
    ];
    let stats = store.endpoint_stats(&asked, t(100)).await.expect("stats");
    let expected = |id: &str, pending, dead, succeeded, failed| EndpointStats {
        endpoint_id: id.to_owned(),
        pending,
        dead,
        succeeded,
        failed,
    };
    assert_eq!(
        stats,
        vec![
            expected(&b.id, 0, 0, 4, 0),
            expected(&a.id, 2, 1, 1, 2),
            expected(&quiet.id, 0, 0, 0, 0),
        ],
        "in the order asked, unknown ids left out"
    );
    assert_eq!(stats[0].success_rate(), Some(100.0));
    assert_eq!(stats[2].success_rate(), None);
    let later = store
        .endpoint_stats(std::slice::from_ref(&a.id), t(200))
        .await
        .expect("stats");
    assert_eq!(
        later,
        vec![expected(&a.id, 2, 1, 0, 1)],
        "only attempts since the window's start count"
    );
    assert!(
        store
            .endpoint_stats(&[], t(0))
            .await
            .expect("no ids")
            .is_empty()
    );

    let window = Buckets {
        start: t(100),
        width: Duration::from_secs(60),
        count: NonZeroU32::new(3).expect("3"),
    };
    let slice = |start, succeeded, http_error, transport_error| AttemptBucket {
        start,
        succeeded,
        http_error,
        transport_error,
    };
    let history = store
        .attempt_buckets(
            &[
                quiet.id.clone(),
                "ep_unknown".into(),
                a.id.clone(),
                b.id.clone(),
            ],
            window,
        )
        .await
        .expect("buckets");
    let by_endpoint: Vec<_> = history
        .iter()
        .map(|e| (e.endpoint_id.clone(), e.buckets.clone()))
        .collect();
    assert_eq!(
        by_endpoint,
        vec![
            (
                quiet.id.clone(),
                vec![
                    slice(t(100), 0, 0, 0),
                    slice(t(160), 0, 0, 0),
                    slice(t(220), 0, 0, 0)
                ]
            ),
            (
                a.id.clone(),
                vec![
                    slice(t(100), 1, 0, 0),
                    slice(t(160), 0, 1, 0),
                    slice(t(220), 0, 0, 1)
                ]
            ),
            // The attempt at the window's end is outside it.
            (
                b.id.clone(),
                vec![
                    slice(t(100), 3, 0, 0),
                    slice(t(160), 0, 0, 0),
                    slice(t(220), 0, 0, 0)
                ]
            ),
        ],
        "every slice of every known endpoint, in the order asked"
    );
    let page = store.recent_messages(&a.id, None, 3).await.expect("page 1");
    let summary: Vec<_> = page
        .iter()
        .map(|m| (m.message_id.clone(), m.delivery.state, m.delivery.attempts))
        .collect();
    assert_eq!(
        summary,
        vec![
            (ids[3].clone(), DeliveryState::Delivering, 0),
            (ids[2].clone(), DeliveryState::Dead, 1),
            (ids[1].clone(), DeliveryState::FailedRetrying, 1),
        ],
        "newest first"
    );
    assert_eq!(page[0].event_type, "invoice.paid");
    assert_eq!(page[0].created_at, t(103));
    assert_eq!(page[0].delivery.endpoint_id, a.id);
    let next = store
        .recent_messages(&a.id, Some(&ids[1]), 3)
        .await
        .expect("page 2");
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].message_id, ids[0]);
    assert_eq!(next[0].delivery.state, DeliveryState::Succeeded);
    assert!(
        store
            .recent_messages(&quiet.id, None, 10)
            .await
            .expect("quiet")
            .is_empty()
    );
    assert!(matches!(
        store.recent_messages(&quiet.id, Some(&ids[0]), 10).await,
        Err(StoreError::UnknownMessage(_))
    ));
    assert!(matches!(
        store.recent_messages("ep_unknown", None, 10).await,
        Err(StoreError::UnknownEndpoint(_))
    ));
}
