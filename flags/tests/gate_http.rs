//! `FlagGateLayer` over real HTTP: an axum server on 127.0.0.1 (port 0) and
//! hyper-util's client.
#![cfg(feature = "axum")]
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Extension;
use axum::routing::get;
use bytes::Bytes;
use http::{HeaderName, Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use palisade_flags::gate::{ClientIp, FlagGateLayer, FromHeader, context_fn};
use palisade_flags::model::{
    Constraint, ContextField, Flag, FlagKind, FlagSet, Operator, Strategy, Variant,
};
use palisade_flags::{Evaluation, Flags};
use tokio::net::TcpListener;

const USER: HeaderName = HeaderName::from_static("x-user-id");
const PLAN: HeaderName = HeaderName::from_static("x-plan");

/// An upper bound on one exchange, so a hung server fails the test.
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(20);

struct Answer {
    status: StatusCode,
    content_type: Option<String>,
    body: String,
}

impl Answer {
    fn problem_code(&self) -> String {
        assert_eq!(
            self.content_type.as_deref(),
            Some("application/problem+json"),
            "{}",
            self.body
        );
        let problem: serde_json::Value = serde_json::from_str(&self.body).unwrap();
        assert_eq!(problem["status"], self.status.as_u16());
        problem["code"].as_str().unwrap().to_owned()
    }
}

async fn serve(app: Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

async fn serve_with_peer(app: Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    addr
}

async fn get_from(addr: SocketAddr, path: &str, headers: &[(&HeaderName, &str)]) -> Answer {
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let mut request = Request::get(format!("http://{addr}{path}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let exchange = async {
        let response = client
            .request(request.body(Empty::new()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned());
        let body = response.into_body().collect().await.unwrap().to_bytes();
        Answer {
            status,
            content_type,
            body: String::from_utf8(body.to_vec()).unwrap(),
        }
    };
    tokio::time::timeout(EXCHANGE_TIMEOUT, exchange)
        .await
        .unwrap()
}

fn users(ids: &[&str]) -> Strategy {
    Strategy::new("listed users").constraint(Constraint::new(
        ContextField::UserId,
        Operator::In(ids.iter().map(|&id| id.into()).collect()),
    ))
}

fn flags(flag: Flag) -> Arc<Flags> {
    Arc::new(Flags::new(FlagSet::new([flag], []).unwrap()))
}

/// A handler that tells what the gate put into the extensions.
async fn show(Extension(evaluation): Extension<Evaluation>) -> String {
    format!(
        "enabled={} variant={} reason={}",
        evaluation.is_enabled(),
        evaluation.variant_name(),
        evaluation.reason()
    )
}

fn gated_app(flags: &Arc<Flags>, key: &str) -> Router {
    Router::new()
        .route("/beta", get(show))
        .route_layer(FlagGateLayer::new(flags.clone(), key).context(FromHeader::user_id(USER)))
        .route("/open", get(|| async { "open" }))
}

#[tokio::test]
async fn an_enabled_flag_lets_the_request_through_with_its_evaluation() {
    let flags = flags(Flag::new("beta", FlagKind::Boolean).strategy(users(&["alice"])));
    let addr = serve(gated_app(&flags, "beta")).await;

    let answer = get_from(addr, "/beta", &[(&USER, "alice")]).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.body,
        "enabled=true variant=disabled reason=TARGETING_MATCH"
    );
}

#[tokio::test]
async fn a_disabled_flag_answers_404_problem_json() {
    let flags = flags(Flag::new("beta", FlagKind::Boolean).strategy(users(&["alice"])));
    let addr = serve(gated_app(&flags, "beta")).await;

    let answer = get_from(addr, "/beta", &[(&USER, "bob")]).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_eq!(answer.problem_code(), "feature_disabled");
    let problem: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
    assert_eq!(
        problem["type"],
        "https://palisade-rs.github.io/problems/feature_disabled"
    );
    // No user at all: off as well. Routes outside the gate are untouched.
    assert_eq!(
        get_from(addr, "/beta", &[]).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(get_from(addr, "/open", &[]).await.body, "open");
}

#[tokio::test]
async fn a_gate_on_an_unknown_flag_is_closed() {
    let flags = flags(Flag::new("beta", FlagKind::Boolean));
    let addr = serve(gated_app(&flags, "no-such-flag")).await;

    let answer = get_from(addr, "/beta", &[(&USER, "alice")]).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_eq!(answer.problem_code(), "feature_disabled");
}

#[tokio::test]
async fn the_served_variant_is_in_the_extensions() {
    let flags = flags(
        Flag::new("layout", FlagKind::Variant)
            .variant(Variant::new("red", 1))
            .variant(Variant::new("green", 1).override_for(ContextField::UserId, ["vip"]))
            .variant(Variant::new("blue", 1)),
    );
    let addr = serve(gated_app(&flags, "layout")).await;

    let answer = get_from(addr, "/beta", &[(&USER, "vip")]).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.body,
        "enabled=true variant=green reason=TARGETING_MATCH"
    );

    // Everybody else gets a weighted variant, the same one every time.
    let first = get_from(addr, "/beta", &[(&USER, "u-17")]).await;
    assert!(first.body.ends_with("reason=SPLIT"), "{}", first.body);
    assert!(!first.body.contains("variant=disabled"), "{}", first.body);
    assert_eq!(
        get_from(addr, "/beta", &[(&USER, "u-17")]).await.body,
        first.body
    );
}

#[tokio::test]
async fn replacing_the_flags_between_two_requests_changes_the_answer() {
    let flags = flags(Flag::new("beta", FlagKind::Boolean));
    let addr = serve(gated_app(&flags, "beta")).await;
    assert_eq!(
        get_from(addr, "/beta", &[(&USER, "alice")]).await.status,
        StatusCode::OK
    );

    flags.replace(FlagSet::new([Flag::new("beta", FlagKind::Boolean).killed(true)], []).unwrap());
    let answer = get_from(addr, "/beta", &[(&USER, "alice")]).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_eq!(answer.problem_code(), "feature_disabled");

    flags.replace(FlagSet::new([Flag::new("beta", FlagKind::Boolean)], []).unwrap());
    assert_eq!(
        get_from(addr, "/beta", &[(&USER, "alice")]).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn headers_become_properties_and_closures_add_more() {
    let pro_in_eu = Strategy::new("pro plans in the EU")
        .constraint(Constraint::new(
            ContextField::property("plan"),
            Operator::In(vec!["pro".into()]),
        ))
        .constraint(Constraint::new(
            ContextField::property("region"),
            Operator::In(vec!["eu".into()]),
        ));
    let flags = flags(Flag::new("beta", FlagKind::Boolean).strategy(pro_in_eu));
    // The region is the first path segment.
    let region = context_fn(
        |request, context| match request.uri.path().split('/').nth(1) {
            Some(region) => context.property("region", region),
            None => context,
        },
    );
    let app = Router::new()
        .route("/{region}/beta", get(show))
        .route_layer(
            FlagGateLayer::new(flags, "beta").context((FromHeader::property(PLAN, "plan"), region)),
        );
    let addr = serve(app).await;

    assert_eq!(
        get_from(addr, "/eu/beta", &[(&PLAN, "pro")]).await.status,
        StatusCode::OK
    );
    assert_eq!(
        get_from(addr, "/us/beta", &[(&PLAN, "pro")]).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get_from(addr, "/eu/beta", &[(&PLAN, "free")]).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn the_client_ip_feeds_cidr_constraints() {
    let loopback = Strategy::new("loopback clients").constraint(Constraint::new(
        ContextField::RemoteAddress,
        Operator::in_cidr(["127.0.0.0/8"]).unwrap(),
    ));
    let elsewhere = Strategy::new("a documentation network").constraint(Constraint::new(
        ContextField::RemoteAddress,
        Operator::in_cidr(["192.0.2.0/24"]).unwrap(),
    ));
    let flags = Arc::new(Flags::new(
        FlagSet::new(
            [
                Flag::new("local", FlagKind::Boolean).strategy(loopback),
                Flag::new("remote", FlagKind::Boolean).strategy(elsewhere),
            ],
            [],
        )
        .unwrap(),
    ));
    let app = Router::new()
        .route("/local", get(show))
        .route_layer(FlagGateLayer::new(flags.clone(), "local").context(ClientIp))
        .route(
            "/remote",
            get(show).route_layer(FlagGateLayer::new(flags, "remote").context(ClientIp)),
        );
    let addr = serve_with_peer(app).await;

    assert_eq!(get_from(addr, "/local", &[]).await.status, StatusCode::OK);
    assert_eq!(
        get_from(addr, "/remote", &[]).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_client_ip_gate_without_connect_info_fails_loudly_not_closed() {
    let flags = flags(Flag::new("beta", FlagKind::Boolean));
    let app = Router::new()
        .route("/beta", get(show))
        .route_layer(FlagGateLayer::new(flags, "beta").context(ClientIp));
    // Served without `into_make_service_with_connect_info`: a set-up error.
    let addr = serve(app).await;

    let answer = get_from(addr, "/beta", &[]).await;
    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(answer.problem_code(), "flag_context_unavailable");
}

#[tokio::test]
async fn a_configured_response_or_fallback_answers_when_off() {
    let flags = flags(Flag::new("beta", FlagKind::Boolean).strategy(users(&["alice"])));
    let teapot = FlagGateLayer::new(flags.clone(), "beta")
        .context(FromHeader::user_id(USER))
        .off_response(|| {
            Response::builder()
                .status(StatusCode::IM_A_TEAPOT)
                .body(Body::from("not yet"))
                .unwrap()
        });
    let old_search = tower::service_fn(|request: Request<Body>| async move {
        // The fallback sees the evaluation too.
        let reason = request.extensions().get::<Evaluation>().unwrap().reason();
        Ok::<_, std::convert::Infallible>(Response::new(Body::from(format!(
            "old search ({reason})"
        ))))
    });
    let fallback = FlagGateLayer::new(flags, "beta")
        .context(FromHeader::user_id(USER))
        .fallback(old_search);
    let app = Router::new()
        .route("/teapot", get(show).route_layer(teapot))
        .route(
            "/search",
            get(|| async { "new search" }).route_layer(fallback),
        );
    let addr = serve(app).await;

    let answer = get_from(addr, "/teapot", &[(&USER, "bob")]).await;
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (StatusCode::IM_A_TEAPOT, "not yet")
    );
    assert_eq!(
        get_from(addr, "/teapot", &[(&USER, "alice")]).await.status,
        StatusCode::OK
    );

    assert_eq!(
        get_from(addr, "/search", &[(&USER, "bob")]).await.body,
        "old search (DEFAULT)"
    );
    assert_eq!(
        get_from(addr, "/search", &[(&USER, "alice")]).await.body,
        "new search"
    );
}

mod extractors {
    use axum::extract::FromRef;
    use palisade_flags::extract::{Flag as FlagOf, FlagState, Gated};
    use palisade_flags::flag_key;

    use super::*;

    flag_key! {
        /// The checkout layout experiment.
        Checkout = "checkout"
    }

    #[derive(Clone)]
    struct AppState {
        flags: FlagState,
    }

    impl FromRef<AppState> for FlagState {
        fn from_ref(state: &AppState) -> Self {
            state.flags.clone()
        }
    }

    async fn checkout(checkout: FlagOf<Checkout>) -> String {
        match checkout.variant_name() {
            "one-page" => "one-page checkout".into(),
            other => format!("classic checkout ({other}, {})", checkout.reason()),
        }
    }

    fn checkout_flag(testers: &[&str]) -> Flag {
        Flag::new("checkout", FlagKind::Variant)
            .variant(Variant::new("classic", 1))
            .variant(
                Variant::new("one-page", 0).override_for(ContextField::UserId, testers.to_vec()),
            )
    }

    #[tokio::test]
    async fn a_handler_branches_on_a_flag_evaluated_from_state() {
        let flags = flags(checkout_flag(&["tester"]));
        let state = AppState {
            flags: FlagState::new(flags.clone()).context(FromHeader::user_id(USER)),
        };
        let app = Router::new()
            .route("/checkout", get(checkout))
            .with_state(state);
        let addr = serve(app).await;

        assert_eq!(
            get_from(addr, "/checkout", &[(&USER, "tester")]).await.body,
            "one-page checkout"
        );
        assert_eq!(
            get_from(addr, "/checkout", &[(&USER, "someone")])
                .await
                .body,
            "classic checkout (classic, STATIC)"
        );

        // Live: the next request sees the new definition.
        flags.replace(FlagSet::new([checkout_flag(&["someone"])], []).unwrap());
        assert_eq!(
            get_from(addr, "/checkout", &[(&USER, "someone")])
                .await
                .body,
            "one-page checkout"
        );

        // The flag removed: the handler takes its default branch.
        flags.replace(FlagSet::new([Flag::new("other", FlagKind::Boolean)], []).unwrap());
        assert_eq!(
            get_from(addr, "/checkout", &[(&USER, "someone")])
                .await
                .body,
            "classic checkout (disabled, ERROR)"
        );
    }

    #[tokio::test]
    async fn a_flag_extractor_that_cannot_build_its_context_is_a_500() {
        let state = AppState {
            flags: FlagState::new(flags(checkout_flag(&[]))).context(ClientIp),
        };
        let app = Router::new()
            .route("/checkout", get(checkout))
            .with_state(state);
        let addr = serve(app).await;

        let answer = get_from(addr, "/checkout", &[]).await;
        assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(answer.problem_code(), "flag_context_unavailable");
    }

    async fn variant(Gated(evaluation): Gated) -> String {
        evaluation.variant_name().to_owned()
    }

    async fn maybe_variant(gated: Option<Gated>) -> String {
        gated.map_or_else(
            || "no gate".to_owned(),
            |Gated(e)| e.variant_name().to_owned(),
        )
    }

    #[tokio::test]
    async fn gated_reads_the_gates_evaluation_and_fails_loudly_without_a_gate() {
        let flags = flags(checkout_flag(&["tester"]));
        let gate =
            || FlagGateLayer::new(flags.clone(), "checkout").context(FromHeader::user_id(USER));
        let app = Router::new()
            .route("/gated", get(variant).route_layer(gate()))
            .route("/optional-gated", get(maybe_variant).route_layer(gate()))
            .route("/ungated", get(variant))
            .route("/optional", get(maybe_variant));
        let addr = serve(app).await;

        assert_eq!(
            get_from(addr, "/gated", &[(&USER, "tester")]).await.body,
            "one-page"
        );
        assert_eq!(
            get_from(addr, "/optional-gated", &[(&USER, "x")])
                .await
                .body,
            "classic"
        );
        assert_eq!(get_from(addr, "/optional", &[]).await.body, "no gate");
        let answer = get_from(addr, "/ungated", &[]).await;
        assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(answer.problem_code(), "flag_gate_missing");
    }
}

mod allocations {
    use std::pin::pin;
    use std::task::{Context as TaskContext, Poll, Waker};

    use tower::{Layer as _, Service as _};

    use super::*;

    /// Context extraction, evaluation and routing allocate nothing: on a
    /// Boolean flag, the one allocation per request is the boxed
    /// `Evaluation` in the extensions (the request already has an
    /// extension map, as requests from hyper and axum do).
    #[test]
    fn the_gate_allocates_only_the_extension_on_the_fast_path() {
        let flags = flags(Flag::new("beta", FlagKind::Boolean).strategy(users(&["u"])));
        let inner = tower::service_fn(|_: Request<()>| async {
            Ok::<_, std::convert::Infallible>(Response::new(String::new()))
        });
        let mut gate = FlagGateLayer::new(flags, "beta")
            .context((
                FromHeader::user_id(USER),
                FromHeader::property(PLAN, "plan"),
            ))
            .layer(inner);
        let mut requests: Vec<Request<()>> = (0..1_001)
            .map(|_| {
                let mut request = Request::builder()
                    .header(&USER, "u")
                    .header(&PLAN, "pro")
                    .body(())
                    .unwrap();
                request.extensions_mut().insert(7_u8);
                request
            })
            .collect();
        let mut cx = TaskContext::from_waker(Waker::noop());
        let mut served = 0;
        // Warm-up: the first snapshot load on a thread registers it with
        // arc-swap (once per thread, not per request).
        let first = requests.pop().unwrap();
        assert!(gate.poll_ready(&mut cx).is_ready());
        assert!(pin!(gate.call(first)).poll(&mut cx).is_ready());
        let count = allocation_counter::measure(|| {
            for request in requests {
                assert!(gate.poll_ready(&mut cx).is_ready());
                let Poll::Ready(Ok(response)) = pin!(gate.call(request)).poll(&mut cx) else {
                    panic!("the inner service answers at once");
                };
                served += usize::from(response.status() == StatusCode::OK);
            }
        })
        .count_total;
        assert_eq!(served, 1_000);
        assert_eq!(count, 1_000);
    }
}
