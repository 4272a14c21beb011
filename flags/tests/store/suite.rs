//! The behaviour every `FlagStore` must have, run against each backend.

use palisade_flags::model::{Dependency, Flag, FlagKind};
use palisade_flags::store::{AuditAction, Edit, Expect, FlagStore, StoreError};
use palisade_flags::{Context, native};

fn on(store: &dyn FlagStore, key: &str) -> bool {
    store
        .live()
        .flags()
        .evaluate(key, &Context::new())
        .is_enabled()
}

/// Create, update, conflict, delete, audit and revert on one store.
pub(crate) async fn crud_audit_and_revert(store: &dyn FlagStore) {
    let ana = Edit::by("ana").because("launch");
    let flag = Flag::new("checkout", FlagKind::Boolean);

    // Create.
    let created = store.put(&flag, Expect::Absent, &ana).await.unwrap();
    assert_eq!((created.key.as_str(), created.version), ("checkout", 1));
    assert!(on(store, "checkout"), "the write is served at once");
    let again = store.put(&flag, Expect::Absent, &ana).await.unwrap_err();
    assert!(
        matches!(
            again,
            StoreError::Conflict {
                expected: 0,
                found: 1,
                ..
            }
        ),
        "{again}"
    );

    // Update, with a stale version refused.
    let off = flag.clone().enabled(false);
    let updated = store
        .put(&off, Expect::Version(1), &Edit::by("bo"))
        .await
        .unwrap();
    assert_eq!(updated.version, 2);
    assert!(!on(store, "checkout"));
    let stale = store
        .put(&flag, Expect::Version(1), &Edit::by("cy"))
        .await
        .unwrap_err();
    assert_eq!(
        stale.to_string(),
        "flag \"checkout\" was expected at version 1 but is at version 2"
    );
    assert!(!on(store, "checkout"), "a refused write changes nothing");

    // Reads.
    let got = store.get("checkout").await.unwrap();
    assert_eq!(got.version, 2);
    assert_eq!(got.definition, native::flag_to_value(&off));
    assert!(!got.flag().unwrap().is_enabled());
    assert!(matches!(
        store.get("nope").await.unwrap_err(),
        StoreError::NotFound { version: None, .. }
    ));

    // An invalid set is refused whole: a child of a missing parent, then
    // deleting a parent that has a child.
    let orphan = Flag::new("child", FlagKind::Boolean).depends_on(Dependency::enabled("ghost"));
    let invalid = store.put(&orphan, Expect::Any, &ana).await.unwrap_err();
    assert!(matches!(invalid, StoreError::Invalid(_)), "{invalid}");
    assert!(
        invalid
            .to_string()
            .contains("\"ghost\", which is not defined"),
        "{invalid}"
    );
    let child = Flag::new("child", FlagKind::Boolean).depends_on(Dependency::enabled("checkout"));
    store.put(&child, Expect::Absent, &ana).await.unwrap();
    let blocked = store
        .delete("checkout", Expect::Any, &ana)
        .await
        .unwrap_err();
    assert!(matches!(blocked, StoreError::Invalid(_)), "{blocked}");
    let cycle = flag.clone().depends_on(Dependency::enabled("child"));
    let cyclic = store.put(&cycle, Expect::Any, &ana).await.unwrap_err();
    assert!(cyclic.to_string().contains("cycle: "), "{cyclic}");
    assert_eq!(store.list().await.unwrap().len(), 2);

    // Delete (the child first), with its own version.
    store
        .delete("child", Expect::Version(1), &Edit::by("bo"))
        .await
        .unwrap();
    assert!(matches!(
        store.delete("child", Expect::Any, &ana).await.unwrap_err(),
        StoreError::NotFound { .. }
    ));
    assert_eq!(store.live().snapshot().len(), 1);

    // The audit log: every accepted change, nothing refused.
    let history = store.history("checkout").await.unwrap();
    let summary: Vec<_> = history
        .iter()
        .map(|e| (e.version, e.action, e.actor.as_str()))
        .collect();
    assert_eq!(
        summary,
        [
            (1, AuditAction::Create, "ana"),
            (2, AuditAction::Update, "bo")
        ]
    );
    assert_eq!(history[0].reason.as_deref(), Some("launch"));
    assert_eq!(history[0].before, None);
    assert_eq!(history[1].before, history[0].after);
    assert_eq!(
        history[1].after.as_ref(),
        Some(&native::flag_to_value(&off))
    );
    assert!(history[0].id < history[1].id);
    let child_history = store.history("child").await.unwrap();
    assert_eq!(child_history.len(), 2);
    assert_eq!(child_history[1].action, AuditAction::Delete);
    assert_eq!(child_history[1].after, None);

    // Revert to version 1: a new, audited version 3.
    let reverted = store
        .revert("checkout", 1, &Edit::by("ana").because("rollback"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(reverted.version, 3);
    assert!(on(store, "checkout"));
    let last = store.history("checkout").await.unwrap().pop().unwrap();
    assert_eq!(
        (last.version, last.action, last.reason.as_deref()),
        (3, AuditAction::Revert, Some("rollback"))
    );
    assert_eq!(last.before.as_ref(), Some(&native::flag_to_value(&off)));
    assert!(matches!(
        store.revert("checkout", 9, &ana).await.unwrap_err(),
        StoreError::NotFound {
            version: Some(9),
            ..
        }
    ));

    // A deleted key created again goes on counting versions.
    let recreated = store.put(&child, Expect::Absent, &ana).await.unwrap();
    assert_eq!(recreated.version, 3);
}
