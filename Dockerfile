# syntax=docker/dockerfile:1
# loopgate and its demo backend as small static images; docs/DOCKER.md has the walkthrough.
#
#   docker build -t loopgate .                                  # the proxy (default target)
#   docker build -t loopgate-backend --target backend .         # the demo backend
#   docker compose up -d                                        # both, as docker-compose.yml says

ARG GO_VERSION=1.26

FROM golang:${GO_VERSION}-alpine AS build
WORKDIR /src
# Modules first: a source change then reuses the download layer.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
# CGO off: fully static binaries that run on any base, scratch included.
ENV CGO_ENABLED=0
RUN go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/loopgate ./cmd/loopgate \
 && go build -trimpath -ldflags "-s -w" -o /out/backend ./cmd/backend \
 && go build -trimpath -ldflags "-s -w" -o /out/loadgen ./cmd/loadgen

# The runtime base is busybox (about 1.5 MB) rather than scratch for one reason: its wget lets
# the HEALTHCHECKs probe over HTTP without adding a curl. Nothing else in it is used.
FROM busybox:1.36.1-musl AS runtime
# nobody:nogroup; nothing here needs root (every port is above 1024).
USER 65534:65534

# The demo backend (cmd/backend). Every container listens on 8001; give each a -name.
FROM runtime AS backend
COPY --from=build /out/backend /usr/local/bin/backend
EXPOSE 8001
HEALTHCHECK --interval=5s --timeout=2s --start-period=5s --retries=3 \
  CMD ["wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8001/health"]
ENTRYPOINT ["/usr/local/bin/backend", "-host", "0.0.0.0", "-port", "8001"]
CMD ["-name", "backend"]

# The proxy (default target), with the load generator beside it:
#   docker compose exec loopgate loadgen -n 1000 -c 20 http://127.0.0.1:8080/
FROM runtime AS loopgate
COPY --from=build /out/loopgate /out/loadgen /usr/local/bin/
COPY config.toml /etc/loopgate/config.toml
EXPOSE 8080
# /__health__ goes through the proxy to a backend today, so "healthy" means "serving"; once
# loopgate answers /__health__ itself (observability issue) the same probe asks it directly.
HEALTHCHECK --interval=5s --timeout=2s --start-period=5s --retries=3 \
  CMD ["wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/__health__"]
# SIGTERM (docker stop) drains for server.shutdown_grace (10s by default).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/loopgate"]
CMD ["-config", "/etc/loopgate/config.toml"]
