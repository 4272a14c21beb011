//! The OpenFeature provider, through an `open-feature` client.
#![cfg(feature = "openfeature")]
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use open_feature::{
    Client, EvaluationContext, EvaluationErrorCode, EvaluationReason, OpenFeature, StructValue,
    Value,
};
use palisade_flags::Flags;
use palisade_flags::model::{
    Constraint, ContextField, Flag, FlagKind, FlagSet, Operator, Payload, Strategy, Variant,
};
use palisade_flags::openfeature::PalisadeProvider;
use serde_json::json;

fn config(key: &str, on: serde_json::Value) -> Flag {
    Flag::new(
        key,
        FlagKind::Config {
            on: Arc::new(on),
            off: Arc::new(json!(null)),
        },
    )
}

fn flags() -> Arc<Flags> {
    let pro = Strategy::new("pro plan").constraint(Constraint::new(
        ContextField::property("plan"),
        Operator::In(vec!["pro".into()]),
    ));
    let vip = Strategy::new("vip").constraint(Constraint::new(
        ContextField::UserId,
        Operator::In(vec!["vip".into()]),
    ));
    let set = FlagSet::new(
        [
            Flag::new("plain", FlagKind::Boolean),
            Flag::new("for-pro", FlagKind::Boolean).strategy(pro),
            Flag::new("for-vip", FlagKind::Boolean).strategy(vip),
            Flag::new("switched-off", FlagKind::Boolean).enabled(false),
            Flag::new("colour", FlagKind::Variant)
                .variant(Variant::new("red", 1).payload(Payload::string("#f00")))
                .variant(Variant::new("blue", 1))
                .variant(Variant::new("green", 1).override_for(ContextField::UserId, ["vip"])),
            config("page-size", json!(50)),
            config("ratio", json!(0.25)),
            config("greeting", json!("hello")),
            config(
                "limits",
                json!({ "rps": 10, "burst": 2.5, "tiers": ["a", "b"], "on": true }),
            ),
            config("with-null", json!({ "a": null })),
        ],
        [],
    )
    .unwrap();
    Arc::new(Flags::new(set))
}

async fn client(flags: Arc<Flags>) -> Client {
    let mut api = OpenFeature::default();
    api.set_provider(PalisadeProvider::new(flags)).await;
    api.create_client()
}

fn user(id: &str) -> EvaluationContext {
    EvaluationContext::default().with_targeting_key(id)
}

#[tokio::test]
async fn booleans_resolve_with_our_reasons() {
    let client = client(flags()).await;
    let plain = client.get_bool_details("plain", None, None).await.unwrap();
    assert!(plain.value);
    assert_eq!(plain.reason, Some(EvaluationReason::Static));

    let pro = EvaluationContext::default().with_custom_field("plan", "pro");
    let details = client
        .get_bool_details("for-pro", Some(&pro), None)
        .await
        .unwrap();
    assert!(details.value);
    assert_eq!(details.reason, Some(EvaluationReason::TargetingMatch));

    let free = EvaluationContext::default().with_custom_field("plan", "free");
    let details = client
        .get_bool_details("for-pro", Some(&free), None)
        .await
        .unwrap();
    assert!(!details.value);
    assert_eq!(details.reason, Some(EvaluationReason::Default));

    let off = client
        .get_bool_details("switched-off", None, None)
        .await
        .unwrap();
    assert!(!off.value);
    assert_eq!(off.reason, Some(EvaluationReason::Disabled));
}

#[tokio::test]
async fn the_targeting_key_is_the_user_id() {
    let client = client(flags()).await;
    assert!(
        client
            .get_bool_value("for-vip", Some(&user("vip")), None)
            .await
            .unwrap()
    );
    assert!(
        !client
            .get_bool_value("for-vip", Some(&user("other")), None)
            .await
            .unwrap()
    );
    // A `userId` field works too; the targeting key wins over it.
    let field = EvaluationContext::default().with_custom_field("userId", "vip");
    assert!(
        client
            .get_bool_value("for-vip", Some(&field), None)
            .await
            .unwrap()
    );
    let both = user("other").with_custom_field("userId", "vip");
    assert!(
        !client
            .get_bool_value("for-vip", Some(&both), None)
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn a_variant_flag_resolves_as_a_string_with_its_variant() {
    let client = client(flags()).await;
    let vip = client
        .get_string_details("colour", Some(&user("vip")), None)
        .await
        .unwrap();
    assert_eq!(vip.value, "green");
    assert_eq!(vip.variant.as_deref(), Some("green"));
    assert_eq!(vip.reason, Some(EvaluationReason::TargetingMatch));

    let other = client
        .get_string_details("colour", Some(&user("u-9")), None)
        .await
        .unwrap();
    assert!(["red", "blue", "green"].contains(&other.value.as_str()));
    assert_eq!(other.variant.as_deref(), Some(other.value.as_str()));
    assert_eq!(other.reason, Some(EvaluationReason::Split));
}

#[tokio::test]
async fn config_flags_resolve_as_int_float_string_and_struct() {
    let client = client(flags()).await;
    assert_eq!(
        client.get_int_value("page-size", None, None).await.unwrap(),
        50
    );
    assert!(
        (client.get_float_value("ratio", None, None).await.unwrap() - 0.25).abs() < f64::EPSILON
    );
    // An integer is a number too.
    assert!(
        (client
            .get_float_value("page-size", None, None)
            .await
            .unwrap()
            - 50.0)
            .abs()
            < f64::EPSILON
    );
    assert_eq!(
        client
            .get_string_value("greeting", None, None)
            .await
            .unwrap(),
        "hello"
    );

    let limits: StructValue = client.get_struct_value("limits", None, None).await.unwrap();
    assert_eq!(limits.fields["rps"], Value::Int(10));
    assert_eq!(limits.fields["burst"], Value::Float(2.5));
    assert_eq!(limits.fields["on"], Value::Bool(true));
    assert_eq!(
        limits.fields["tiers"],
        Value::Array(vec![Value::String("a".into()), Value::String("b".into())])
    );
}

#[tokio::test]
async fn errors_carry_openfeature_codes() {
    let client = client(flags()).await;
    let missing = client
        .get_bool_details("no-such-flag", None, None)
        .await
        .unwrap_err();
    assert_eq!(missing.code, EvaluationErrorCode::FlagNotFound);

    for (key, code) in [
        ("colour", EvaluationErrorCode::TypeMismatch),
        ("page-size", EvaluationErrorCode::TypeMismatch),
    ] {
        let error = client.get_bool_details(key, None, None).await.unwrap_err();
        assert_eq!(error.code, code, "{key}");
    }
    let error = client
        .get_int_details("plain", None, None)
        .await
        .unwrap_err();
    assert_eq!(error.code, EvaluationErrorCode::TypeMismatch);
    assert!(error.message.unwrap().contains("a boolean"));
    let error = client
        .get_string_details("limits", None, None)
        .await
        .unwrap_err();
    assert_eq!(error.code, EvaluationErrorCode::TypeMismatch);
    let error = client
        .get_struct_details::<StructValue>("greeting", None, None)
        .await
        .unwrap_err();
    assert_eq!(error.code, EvaluationErrorCode::TypeMismatch);
    let error = client
        .get_struct_details::<StructValue>("with-null", None, None)
        .await
        .unwrap_err();
    assert_eq!(error.code, EvaluationErrorCode::ParseError);

    // A context field the evaluator cannot compare is refused, not ignored.
    let nested = EvaluationContext::default().with_custom_field(
        "plan",
        open_feature::EvaluationContextFieldValue::new_struct(7_u8),
    );
    let error = client
        .get_bool_details("for-pro", Some(&nested), None)
        .await
        .unwrap_err();
    assert_eq!(error.code, EvaluationErrorCode::InvalidContext);
}

#[tokio::test]
async fn numbers_in_the_context_compare_as_text_and_updates_apply_at_once() {
    let flags = flags();
    let client = client(flags.clone()).await;
    flags.replace(
        FlagSet::new(
            [
                Flag::new("tier-3", FlagKind::Boolean).strategy(
                    Strategy::new("tier 3").constraint(Constraint::new(
                        ContextField::property("tier"),
                        Operator::In(vec!["3".into()]),
                    )),
                ),
            ],
            [],
        )
        .unwrap(),
    );
    let tier = |n: i64| EvaluationContext::default().with_custom_field("tier", n);
    assert!(
        client
            .get_bool_value("tier-3", Some(&tier(3)), None)
            .await
            .unwrap()
    );
    assert!(
        !client
            .get_bool_value("tier-3", Some(&tier(4)), None)
            .await
            .unwrap()
    );
    let gone = client
        .get_bool_details("plain", None, None)
        .await
        .unwrap_err();
    assert_eq!(gone.code, EvaluationErrorCode::FlagNotFound);
}
