//! The behaviour every `FlagStore` must have, run against each backend.

use palisade_flags::model::{
    Constraint, ContextField, Dependency, Flag, FlagKind, Operator, Segment, Strategy,
};
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

/// The staff segment: `email` ends with `@example.com`.
pub(crate) fn staff(domain: &str) -> Segment {
    Segment::new(7).named("staff").constraint(Constraint::new(
        ContextField::property("email"),
        Operator::EndsWith(palisade_flags::model::StringValues::new([domain])),
    ))
}

/// Whether `email` gets the flag `key` from the store's live evaluator.
pub(crate) fn on_for(store: &dyn FlagStore, key: &str, email: &str) -> bool {
    store
        .live()
        .flags()
        .evaluate(key, &Context::new().property("email", email))
        .is_enabled()
}

/// Segments: stored with versions and audit, served to the flags that use
/// them, guarded against unknown and still-used segments.
pub(crate) async fn segments_versions_audit_and_guards(store: &dyn FlagStore) {
    let ana = Edit::by("ana").because("staff only");
    let beta = Flag::new("beta", FlagKind::Boolean).strategy(Strategy::new("staff").segment(7));

    // A flag naming a segment that is not stored is refused, naming both.
    let unknown = store.put(&beta, Expect::Absent, &ana).await.unwrap_err();
    assert!(matches!(unknown, StoreError::Invalid(_)), "{unknown}");
    assert!(
        unknown
            .to_string()
            .contains("flag \"beta\" uses segment 7, which is not defined"),
        "{unknown}"
    );

    let created = store
        .put_segment(&staff("@example.com"), Expect::Absent, &ana)
        .await
        .unwrap();
    assert_eq!((created.id, created.version), (7, 1));
    assert_eq!(created.segment().unwrap().id(), 7);
    store.put(&beta, Expect::Absent, &ana).await.unwrap();
    assert!(on_for(store, "beta", "ana@example.com"));
    assert!(!on_for(store, "beta", "eve@elsewhere.org"));

    // Changing the segment changes the flag's answers at once; a stale
    // version is refused.
    let mut changes = store.live().subscribe();
    let updated = store
        .put_segment(
            &staff("@elsewhere.org"),
            Expect::Version(1),
            &Edit::by("bo"),
        )
        .await
        .unwrap();
    assert_eq!(updated.version, 2);
    assert!(on_for(store, "beta", "eve@elsewhere.org"));
    assert!(!on_for(store, "beta", "ana@example.com"));
    assert_eq!(
        changes.recv().await,
        Some(palisade_flags::store::Change::Flags(
            vec!["beta".into()].into()
        )),
        "subscribers hear that the flags using the segment changed"
    );
    let stale = store
        .put_segment(&staff("@x.org"), Expect::Version(1), &ana)
        .await
        .unwrap_err();
    assert_eq!(
        stale.to_string(),
        "segment 7 was expected at version 1 but is at version 2"
    );
    let listed = store.list_segments().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].version, 2);

    // A segment still used cannot be deleted; the refusal names the flag.
    let in_use = store
        .delete_segment(7, Expect::Any, &ana)
        .await
        .unwrap_err();
    assert!(
        matches!(&in_use, StoreError::SegmentInUse { segment: 7, flags } if flags == &["beta"]),
        "{in_use}"
    );
    assert_eq!(
        in_use.to_string(),
        "segment 7 is still used by flag \"beta\""
    );
    assert!(
        on_for(store, "beta", "eve@elsewhere.org"),
        "nothing changed"
    );

    // Once no flag uses it, it can go; then it is unknown.
    store.delete("beta", Expect::Any, &ana).await.unwrap();
    store
        .delete_segment(7, Expect::Version(2), &Edit::by("cy"))
        .await
        .unwrap();
    assert!(store.list_segments().await.unwrap().is_empty());
    assert!(matches!(
        store
            .delete_segment(7, Expect::Any, &ana)
            .await
            .unwrap_err(),
        StoreError::SegmentNotFound { segment: 7 }
    ));
    assert!(store.live().snapshot().segments().next().is_none());

    // Its audit log: every accepted change, with before and after.
    let history = store.segment_history(7).await.unwrap();
    let summary: Vec<_> = history
        .iter()
        .map(|e| (e.key.as_str(), e.version, e.action, e.actor.as_str()))
        .collect();
    assert_eq!(
        summary,
        [
            ("7", 1, AuditAction::Create, "ana"),
            ("7", 2, AuditAction::Update, "bo"),
            ("7", 3, AuditAction::Delete, "cy"),
        ]
    );
    assert_eq!(history[0].reason.as_deref(), Some("staff only"));
    assert_eq!(history[1].before, history[0].after);
    assert_eq!(
        history[1].after.as_ref(),
        Some(&native::segment_to_value(&staff("@elsewhere.org")))
    );
    assert_eq!(history[2].after, None);

    // An id a database column cannot hold is refused, not truncated.
    let huge = store
        .put_segment(&Segment::new(u64::MAX), Expect::Any, &ana)
        .await
        .unwrap_err();
    assert!(matches!(huge, StoreError::Invalid(_)), "{huge}");
}
