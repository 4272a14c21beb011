# The Palisade reference server. Not built on the project's own machines
# (no container runtime there): keep it minimal; see server/README.md.
#
#   docker build -t palisade .
#   docker run -p 8080:8080 palisade

# --- build ---------------------------------------------------------------
FROM rust:1.95-slim-bookworm AS builder
WORKDIR /src
# The whole workspace: the server depends on the library crates by path.
COPY . .
RUN cargo build --release --locked -p palisade-server --bin palisade \
    && cp target/release/palisade /usr/local/bin/palisade

# --- run -----------------------------------------------------------------
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/palisade --create-home palisade
COPY --from=builder /usr/local/bin/palisade /usr/local/bin/palisade
USER palisade
# The default SQLite database lives under ./data/, i.e. /var/lib/palisade/data.
WORKDIR /var/lib/palisade
VOLUME ["/var/lib/palisade/data"]
ENV PALISADE_ADDR=0.0.0.0 \
    PALISADE_PORT=8080 \
    PALISADE_LOG_FORMAT=json
EXPOSE 8080
# `palisade healthcheck` reads PALISADE_ADDR/PALISADE_PORT and asks
# /health/live on loopback: no curl in the image.
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
    CMD ["palisade", "healthcheck"]
# SIGTERM drains requests and webhook deliveries (--shutdown-deadline).
STOPSIGNAL SIGTERM
ENTRYPOINT ["palisade"]
CMD ["serve"]
