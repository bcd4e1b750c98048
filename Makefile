# pgw — presence and telephony event gateway.
# The two set-up commands: `make run` and `make test`.

GO      ?= go
BIN     := bin
# The gateway's address for run and demo: `make run ADDR=127.0.0.1:8081`, or
# PGW_ADDR in the environment (the README tour sets it).
ADDR    ?= $(or $(PGW_ADDR),127.0.0.1:8080)

.PHONY: run test bench lint deadcode build cluster demo clean chaos soak fuzz

## run: the gateway on its embedded default (in-process store, embedded NATS).
run:
	$(GO) run ./cmd/gateway --addr $(ADDR)

## test: every test, with the race detector (installs redis-server etc. when missing).
test:
	./scripts/test.sh

## bench: every speed target in one run, each with its same-run baseline (about 12 minutes):
## the load-test harness (3 and 6 nodes, private Redis and NATS), membench (idle memory and
## connect CPU against bare gorilla) and the Go benchmarks; writes docs/benchmarks-harness.md.
bench: build
	./scripts/bench.sh

## fuzz: a longer outside fuzz of the HTTP API (schemathesis against docs/openapi.yaml and a live
## node; FUZZ_SEED=… replays) and the Go fuzz targets, FUZZTIME each (docs/security.md).
FUZZTIME  ?= 60s
FUZZ_SEED ?=
fuzz:
	SEED=$(FUZZ_SEED) ./scripts/schemathesis.sh long
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeFrame$$' -fuzztime $(FUZZTIME) ./gateway/
	$(GO) test -run '^$$' -fuzz '^FuzzVerifyClaims$$' -fuzztime $(FUZZTIME) ./gateway/auth/
	$(GO) test -run '^$$' -fuzz '^FuzzLoginDecode$$' -fuzztime $(FUZZTIME) ./gateway/login/

## chaos: the model-based fault checker, longer (docs/chaos.md). SEED=… replays a run.
SEED     ?= 1
DURATION ?= 10m
ROUND    ?= 15s
chaos:
	PGW_SKIP_BROWSER=1 ./scripts/ensure-services.sh
	PGW_CHAOS_SEED=$(SEED) PGW_CHAOS_DURATION=$(DURATION) PGW_CHAOS_ROUND=$(ROUND) \
	PGW_CHAOS_FAULTS=$(FAULTS) PGW_CHAOS_CLUSTER=$(CLUSTER) PGW_CHAOS_REDIS_LINKS_ONLY=$(REDIS_LINKS_ONLY) PGW_CHAOS_KEEP_GOING=$(KEEP_GOING) PGW_CHAOS_IN_ORDER=$(IN_ORDER) $(GO) test -count=1 -timeout 0 -run '^TestChaos$$' -v ./internal/chaos/

## soak: 30 minutes of churn over 10 000 connections; figures to docs/soak/ (docs/chaos.md).
SOAK_DURATION ?= 30m
SOAK_CONNS    ?= 10000
SOAK_OUT      ?= $(CURDIR)/docs/soak
soak:
	PGW_SKIP_BROWSER=1 ./scripts/ensure-services.sh
	PGW_SOAK_DURATION=$(SOAK_DURATION) PGW_SOAK_CONNS=$(SOAK_CONNS) PGW_SOAK_SEED=$(SEED) PGW_SOAK_OUT=$(SOAK_OUT) \
		$(GO) test -count=1 -timeout 0 -run '^TestSoak$$' -v ./internal/chaos/

# Pinned linters, fetched and built by `go run` on first use (a fresh machine
# needs only Go and the module proxy).
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
DEADCODE    ?= golang.org/x/tools/cmd/deadcode@v0.53.0

## lint: gofmt, go vet and staticcheck.
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

## deadcode: functions no main or test reaches (prints nothing when clean).
deadcode:
	@out=$$($(GO) run $(DEADCODE) -test ./...); if [ -n "$$out" ]; then echo "$$out"; exit 1; fi

## build: the binaries into bin/.
build:
	$(GO) build -o $(BIN)/ ./cmd/...

## cluster: 3 nodes behind nginx, on a private Redis and NATS it starts (logs in out/cluster/).
cluster: build
	./scripts/cluster.sh

## demo: gateway + simulated population + PBX; prints the board URL (logs in out/demo/).
demo: build
	PGW_ADDR=$(ADDR) ./scripts/demo.sh

clean:
	rm -rf $(BIN)
