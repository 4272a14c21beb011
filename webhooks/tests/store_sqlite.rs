//! The store behaviour suite on real SQLite files.
#![cfg(feature = "sqlite")]
#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

#[path = "store/suite.rs"]
mod suite;

use palisade_webhooks::store::SqliteStore;

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("palisade-store-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[tokio::test]
async fn sqlite_store_behaves() {
    let dir = temp_dir("suite");
    let store = SqliteStore::open(dir.join("outbox.db"))
        .await
        .expect("open");
    suite::run(&store).await;
}

#[tokio::test]
async fn sqlite_store_lifecycle() {
    let dir = temp_dir("lifecycle");
    let store = SqliteStore::open(dir.join("outbox.db"))
        .await
        .expect("open");
    suite::run_lifecycle(&store).await;
}

#[tokio::test]
async fn reopening_keeps_everything_and_migrates_once() {
    let dir = temp_dir("reopen");
    let path = dir.join("outbox.db");
    let id = {
        let store = SqliteStore::open(&path).await.expect("open");
        use palisade_webhooks::store::{EventType, Store};
        store
            .create_event_type(
                EventType {
                    name: "a.b".into(),
                    description: String::new(),
                    schema: None,
                },
                suite::t(0),
            )
            .await
            .expect("type");
        store
            .create_endpoint(suite::endpoint("https://x.example/"), suite::t(1))
            .await
            .expect("ep");
        store
            .publish(suite::message("a.b", "{}"), suite::t(2))
            .await
            .expect("publish")
            .message_id
    };
    use palisade_webhooks::store::Store;
    let store = SqliteStore::open(&path).await.expect("reopen");
    assert_eq!(
        store
            .message(&id)
            .await
            .expect("message")
            .payload
            .as_deref(),
        Some(&b"{}"[..])
    );
    assert_eq!(store.stats(suite::t(3)).await.expect("stats").waiting, 1);
}

#[tokio::test]
async fn a_rolled_back_producer_transaction_leaves_no_message() {
    use palisade_webhooks::store::{EventType, Store};
    let dir = temp_dir("tx");
    let store = SqliteStore::open(dir.join("outbox.db"))
        .await
        .expect("open");
    store
        .create_event_type(
            EventType {
                name: "a.b".into(),
                description: String::new(),
                schema: None,
            },
            suite::t(0),
        )
        .await
        .expect("type");
    store
        .create_endpoint(suite::endpoint("https://x.example/"), suite::t(1))
        .await
        .expect("ep");
    let mut tx = store.writer().begin().await.expect("begin");
    let published = store
        .publish_in(&mut tx, suite::message("a.b", "{}"), suite::t(2))
        .await
        .expect("publish_in");
    tx.rollback().await.expect("rollback");
    assert!(store.message(&published.message_id).await.is_err());
    assert_eq!(store.stats(suite::t(3)).await.expect("stats").waiting, 0);
}

#[tokio::test]
async fn endpoint_secrets_are_sealed_at_rest_and_the_key_rotates() {
    use palisade_webhooks::store::{SecretKey, SecretKeyring, Store, StoreError};
    let dir = temp_dir("sealed");
    let path = dir.join("outbox.db");
    let k1 = SecretKey::generate("k1").unwrap();
    let store = SqliteStore::open(&path)
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
    // The file never holds the secret in the clear.
    let raw: String = sqlx::query_scalar("SELECT secret FROM endpoint_secrets")
        .fetch_one(store.writer())
        .await
        .unwrap();
    assert!(raw.starts_with("enc:v1:k1:"), "{raw}");
    assert!(!raw.contains(&secret.to_string()));
    drop(store);

    // Without the key the secret cannot be read, and the error says which key.
    let keyless = SqliteStore::open(&path).await.unwrap();
    match keyless.endpoint(&ep.id).await {
        Err(StoreError::Secret(why)) => assert!(why.contains("`k1`"), "{why}"),
        other => panic!("expected a missing-key error, got {other:?}"),
    }
    drop(keyless);

    // Rotation: k2 current, k1 still opens; reseal; then k1 can go.
    let k2 = SecretKey::generate("k2").unwrap();
    let rotating = SqliteStore::open(&path)
        .await
        .unwrap()
        .with_keyring(SecretKeyring::new(k2.clone()).with_old(k1));
    assert_eq!(rotating.reseal_secrets().await.unwrap(), 1);
    drop(rotating);
    let after = SqliteStore::open(&path)
        .await
        .unwrap()
        .with_keyring(SecretKeyring::new(k2));
    assert_eq!(
        after.endpoint(&ep.id).await.unwrap().secrets[0].secret,
        secret
    );
}
