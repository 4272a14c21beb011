//! The server's own tables (API keys, audit log) beside the outbox, on a
//! real SQLite file and a real Postgres database.
#![allow(clippy::unwrap_used)] // helpers outside #[test] fns panic on purpose

#[path = "../../webhooks/tests/services/postgres.rs"]
mod services;

use std::time::{Duration, UNIX_EPOCH};

use palisade_server::api::{Caller, Scope};
use palisade_server::audit::{Audit, Change};
use palisade_server::database::Database;
use palisade_server::store::ServerDb;
use palisade_server::store::keys::StoredKey;
use palisade_webhooks::store::SecretKeyring;
use serde_json::json;

/// A temporary directory, removed on drop.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("palisade-server-db-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn key(id: &str, scope: Scope) -> StoredKey {
    StoredKey {
        id: id.to_owned(),
        name: format!("key {id}"),
        scope,
        tier: "standard".to_owned(),
        created_at: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        revoked_at: None,
    }
}

async fn keys_round_trip(db: &ServerDb) {
    assert_eq!(db.key_count().await.unwrap(), 0);
    let admin = key("00000000000000aa", Scope::Admin);
    assert!(db.insert_key(&admin, &[7; 32]).await.unwrap());
    // The same id again changes nothing.
    assert!(!db.insert_key(&admin, &[9; 32]).await.unwrap());
    let reader = key("00000000000000bb", Scope::Read);
    assert!(db.insert_key(&reader, &[8; 32]).await.unwrap());

    let (found, hash) = db.key_with_hash(&admin.id).await.unwrap().unwrap();
    assert_eq!(found, admin);
    assert_eq!(hash, vec![7; 32]);
    assert!(
        db.key_with_hash("ffffffffffffffff")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        db.list_keys().await.unwrap(),
        vec![admin.clone(), reader.clone()]
    );

    let at = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let before = db.revoke_key(&reader.id, at).await.unwrap().unwrap();
    assert_eq!(before, reader);
    let (revoked, _) = db.key_with_hash(&reader.id).await.unwrap().unwrap();
    assert_eq!(revoked.revoked_at, Some(at));
    assert!(
        db.revoke_key("ffffffffffffffff", at)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(db.key_count().await.unwrap(), 2);
}

async fn audit_round_trip(db: &ServerDb) {
    let audit = Audit::new(std::sync::Arc::new(db.clone()));
    let caller = Caller {
        key_id: "00000000000000aa".into(),
        scope: Scope::Admin,
        client: None,
    };
    for n in 0..5 {
        audit
            .record(
                &caller,
                Change {
                    action: "flag.update",
                    target: format!("flag-{n}"),
                    before: (n > 0).then(|| json!({ "on": false })),
                    after: Some(json!({ "on": true, "n": n })),
                },
            )
            .await
            .unwrap();
    }
    let page = audit.list(None, 2).await.unwrap();
    assert_eq!(page.len(), 2);
    assert_eq!(page[0].change.target, "flag-4");
    assert_eq!(page[0].actor, "00000000000000aa");
    assert_eq!(page[0].change.action, "flag.update");
    assert_eq!(page[0].change.after, Some(json!({ "on": true, "n": 4 })));
    assert_eq!(page[1].change.target, "flag-3");
    let rest = audit.list(Some(page[1].id), 10).await.unwrap();
    let targets: Vec<_> = rest.iter().map(|e| e.change.target.as_str()).collect();
    assert_eq!(targets, ["flag-2", "flag-1", "flag-0"]);
    assert_eq!(rest[2].change.before, None);
}

#[tokio::test]
async fn sqlite_keeps_keys_and_audit_beside_the_outbox() {
    let dir = TempDir::new("sqlite");
    let database = Database::parse(&format!("sqlite://{}", dir.0.join("p.db").display())).unwrap();
    let (_outbox, db) = database
        .open_with_server(SecretKeyring::default())
        .await
        .unwrap();
    keys_round_trip(&db).await;
    audit_round_trip(&db).await;
    // Opening again applies nothing twice and keeps the rows.
    let (_outbox, db) = database
        .open_with_server(SecretKeyring::default())
        .await
        .unwrap();
    assert_eq!(db.key_count().await.unwrap(), 2);
}

#[tokio::test]
async fn postgres_keeps_keys_and_audit_beside_the_outbox() {
    let Some(pg) =
        services::fresh_database("postgres_keeps_keys_and_audit_beside_the_outbox").await
    else {
        return;
    };
    let database = Database::parse(pg.url()).unwrap();
    let (_outbox, db) = database
        .open_with_server(SecretKeyring::default())
        .await
        .unwrap();
    keys_round_trip(&db).await;
    audit_round_trip(&db).await;
    let (_outbox, db) = database
        .open_with_server(SecretKeyring::default())
        .await
        .unwrap();
    assert_eq!(db.key_count().await.unwrap(), 2);
    if let ServerDb::Postgres(pool) = db {
        pool.close().await;
    }
}
