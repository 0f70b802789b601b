# loopgate: `make run` starts three demo backends and the proxy on :8080;
# `make test` runs every test. See README.md.

GO       ?= go
BIN      := bin
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)
CONFIG   ?= config.toml
FUZZTIME ?= 30s
PIDFILE  ?= /tmp/loopgate.pid

.PHONY: build run test race bench fuzz lint deps check clean perf soak certs

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/loopgate ./cmd/loopgate
	$(GO) build -trimpath -o $(BIN)/backend ./cmd/backend
	$(GO) build -trimpath -o $(BIN)/loadgen ./cmd/loadgen

# Three demo backends and loopgate in the foreground; Ctrl-C stops all of them.
# After an upgrade (bin/loopgate -upgrade -pidfile $(PIDFILE)) it follows the
# process that took over, so the demo keeps running.
run: build
	@if grep -q '^cert_file = "examples/tls/' $(CONFIG) && [ ! -f examples/tls/localhost.pem ]; then $(MAKE) --no-print-directory certs; fi
	@pids=; for i in 1 2 3; do $(BIN)/backend -port 800$$i -name backend-$$i -quiet & pids="$$pids $$!"; done; \
	trap 'kill $$pids 2>/dev/null; wait' EXIT; \
	trap 'kill $$(cat $(PIDFILE) 2>/dev/null) 2>/dev/null; exit 0' INT TERM; \
	sleep 0.3; \
	echo "loopgate on http://127.0.0.1:8080, dashboard http://127.0.0.1:9090/dashboard (backends on :8001-8003); Ctrl-C stops all"; \
	$(BIN)/loopgate -config $(CONFIG) -pidfile $(PIDFILE); \
	while pid=$$(cat $(PIDFILE) 2>/dev/null) && kill -0 $$pid 2>/dev/null; do sleep 0.5; done

# The gnet patch's own tests run too: third_party/gnet is a module of its own,
# which ./... does not reach.
GNET_PATCH_TESTS := Pause|Resume|HalfClose|Drain|Accept|WriteErr

test:
	$(GO) test -count=1 ./...
	cd third_party/gnet && $(GO) test -count=1 -run '$(GNET_PATCH_TESTS)' .

race:
	$(GO) test -race -count=1 ./...
	cd third_party/gnet && $(GO) test -race -count=1 -run '$(GNET_PATCH_TESTS)' .

# Randomized integrity soak of the engine (TestSoak in engine/soak_e2e_test.go; `make test`
# runs 20s of it): DURATION=30m runs it longer, RACE=1 adds -race. Go durations add up, so
# the test timeout "$(DURATION)15m" is DURATION plus 15 minutes.
DURATION ?= 20s
soak:
	LOOPGATE_SOAK=$(DURATION) $(GO) test $(if $(RACE),-race) -count=1 -v -run '^TestSoak$$' -timeout $(DURATION)15m ./engine/

bench:
	$(GO) test -run='^$$' -bench=. -benchmem ./codec/ ./upstream/ ./engine/

fuzz:
	$(GO) test -run='^$$' -fuzz=FuzzParseRequest -fuzztime=$(FUZZTIME) ./codec/
	$(GO) test -run='^$$' -fuzz=FuzzParseResponse -fuzztime=$(FUZZTIME) ./codec/
	$(GO) test -run='^$$' -fuzz=FuzzChunked -fuzztime=$(FUZZTIME) ./codec/

# loopgate vs HAProxy vs nginx on this machine (perf/harness; docs/PERFORMANCE.md): a table,
# results/latest.{json,md,svg} in perf/results/. Several minutes; QUICK=1 is a smoke run of a
# few seconds. More harness flags in PERFFLAGS, e.g. PERFFLAGS="-clients -chart docs/perf.svg".
# PERFFLAGS=-policy runs every proxy with the traffic-policy configuration (issue 13).
# PERFFLAGS=-cache runs the cache family instead: loopgate, nginx (proxy_cache on /dev/shm) and
# Varnish (apt-get install varnish) caching the same backends, hits only, 256 conns at 100 B,
# 16 KiB and 1 MiB, with loopgate's CPU per hit ÷ nginx's and Varnish's (issue 14).
# PERFFLAGS=-compress runs the compression family: loopgate's gzip 1/6, zstd and Brotli against
# nginx's gzip 1/6 on testdata/corpus: CPU per MiB and ratio (issue 14). docs/PERFORMANCE.md.
# PERFFLAGS=-ws runs the WebSocket echo benchmark instead (issue 12; docs/PERFORMANCE.md).
perf: build
	$(GO) build -o $(BIN)/perf-harness ./perf/harness
	$(BIN)/perf-harness -loopgate $(BIN)/loopgate -backend $(BIN)/backend $(if $(QUICK),-quick) $(PERFFLAGS)

lint:
	$(GO) vet ./...
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# Throwaway CA and localhost certificates for trying TLS (docs/TLS.md): examples/tls/
# ca.pem, localhost.pem, localhost-key.pem (ECDSA), localhost-rsa*.pem (RSA) and
# client*.pem (mTLS). Git-ignored; the CA is kept across runs.
certs:
	$(GO) run ./cmd/mkcerts -dir examples/tls -rsa

# Import direction (STYLE.md §1): codec imports only the standard library,
# upstream and health no gnet, certs nothing of ours and no gnet, perf only codec,
# and nothing but cmd imports engine.
deps:
	@set -e; \
	bad=$$($(GO) list -f '{{join .Imports "\n"}}' ./codec/ | grep '\.' || true); \
	[ -z "$$bad" ] || { echo "codec imports non-std: $$bad"; exit 1; }; \
	bad=$$($(GO) list -f '{{join .Imports "\n"}}' ./route/ | grep '\.' || true); \
	[ -z "$$bad" ] || { echo "route imports non-std: $$bad"; exit 1; }; \
	bad=$$($(GO) list -f '{{join .Imports "\n"}}' ./compress/ | grep '\.' | grep -vE '^github.com/(klauspost/compress|andybalholm/brotli)' || true); \
	[ -z "$$bad" ] || { echo "compress imports: $$bad"; exit 1; }; \
	bad=$$($(GO) list -deps ./upstream/ | grep -E 'gnet|loopgate/(engine|codec|stats|health)' || true); \
	[ -z "$$bad" ] || { echo "upstream imports: $$bad"; exit 1; }; \
	bad=$$($(GO) list -deps ./health/ | grep -E 'gnet|loopgate/(engine|cmd)' || true); \
	[ -z "$$bad" ] || { echo "health imports: $$bad"; exit 1; }; \
	bad=$$($(GO) list -deps ./certs/ | grep -E 'gnet|^loopgate/' | grep -vx 'loopgate/certs' || true); \
	[ -z "$$bad" ] || { echo "certs imports: $$bad"; exit 1; }; \
	bad=$$($(GO) list -deps ./perf/... | grep -E '^loopgate/' | grep -vE '^loopgate/(codec|perf|internal/ascii)' || true); \
	[ -z "$$bad" ] || { echo "perf imports: $$bad"; exit 1; }; \
	for p in $$($(GO) list ./... | grep -v '/cmd/'); do \
		if $(GO) list -f '{{join .Imports "\n"}}' $$p | grep -qx 'loopgate/engine'; then echo "$$p imports engine"; exit 1; fi; \
	done; echo "deps OK"

check: lint deps race

clean:
	rm -rf $(BIN)
