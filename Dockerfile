# syntax=docker/dockerfile:1
#
# Firebreak container image. Templates, static files and migrations are embedded
# in the binary, and so is libpq, so the runtime image only needs the binary.
#
#   docker build -t firebreak .
#   docker run -e DATABASE_URL=postgres://... -p 8080:8080 firebreak

# ---- build ------------------------------------------------------------------
FROM rust:1-bookworm AS build
# No system libraries: libpq is compiled into the binary (pq-sys bundled) and TLS is rustls.
WORKDIR /src
COPY . .
# BuildKit cache mounts keep the crate registry and target/ between builds, so a
# code change only recompiles Firebreak, not every dependency. target/ lives in
# the cache, so the binary is copied out within the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin firebreak \
 && cp target/release/firebreak /usr/local/bin/firebreak

# ---- runtime ----------------------------------------------------------------
FROM debian:bookworm-slim AS runtime
# ca-certificates: TLS to SMTP, webhooks and the identity provider;
# curl: container health check against /health.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 firebreak \
 && useradd --system --uid 10001 --gid firebreak --home-dir /var/lib/firebreak \
      --create-home --shell /usr/sbin/nologin firebreak
COPY --from=build /usr/local/bin/firebreak /usr/local/bin/firebreak
# Writable working directory (e.g. for the mail folder used when no SMTP_URL is set).
WORKDIR /var/lib/firebreak
USER firebreak:firebreak
ENV BIND=0.0.0.0:8080
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD curl -fsS http://localhost:8080/health || exit 1
CMD ["firebreak", "serve"]
