//! The baseline of the server load script (`benches/load/server.sh`): axum
//! with no layer at all, answering the same body as the reference server's
//! `/health/live`, on the address given as the first argument.

use axum::Router;
use axum::routing::get;

fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8079".to_owned());
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(async {
            let app = Router::new().route(
                "/health/live",
                get(|| async {
                    (
                        [(http::header::CONTENT_TYPE, "application/json")],
                        r#"{"status":"ok"}"#,
                    )
                }),
            );
            let listener = tokio::net::TcpListener::bind(&addr).await?;
            axum::serve(listener, app).await
        })
}
