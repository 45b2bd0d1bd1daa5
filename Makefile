# strata — see README.md. Everything here runs on a fresh Debian machine with Go 1.26
# after .ci/run (or `make deps`) installed the outside programs the tests use.

GO       ?= go
BIN      := bin/strata
EVENTS   ?= 10000000
RUNS     ?= 5
# Packages with concurrent code, also run under the race detector.
RACE_PKGS := ./storage/... ./engine/... ./server/... ./ingest/...

.PHONY: all build demo test test-race bench bench-go lint deps clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/strata

# Builds strata, loads 1,000,000 generated events, serves PostgreSQL on 127.0.0.1:5433.
demo: build
	./$(BIN) demo --data-dir ./strata-demo

test:
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 20m ./...
	$(GO) test -count=1 -race $(RACE_PKGS)
	cd bench/duck && $(GO) vet -mod=mod ./... && $(GO) test -mod=mod -count=1 ./...

# Loads $(EVENTS) events into strata and DuckDB and prints each query's median time
# over strata's wire (its server on loopback, queried with pgx) and in process, and
# the strata/DuckDB ratios; then the go test benchmarks.
bench:
	cd bench/duck && $(GO) run -mod=mod . -events $(EVENTS) -runs $(RUNS)
	$(MAKE) bench-go

# The cold tier: loads $(EVENTS) events into strata, hands every chunk to the Delta Lake
# table, and compares strata (lake files only) with DuckDB over the same Parquet files.
.PHONY: bench-cold
bench-cold:
	cd bench/duck && $(GO) run -mod=mod . -cold -events $(EVENTS) -runs $(RUNS)

# A cluster on this machine (issue 13): ingest throughput of $(CLUSTER_EVENTS) Kafka events with
# 1, 2 and 3 owners (strata serve --cluster), and the dashboard suite's median latency on an
# owner and on a node that owns nothing (cmd/strata TestBenchCluster).
CLUSTER_EVENTS ?= 2000000
.PHONY: bench-cluster
bench-cluster:
	STRATA_BENCH_CLUSTER=$(CLUSTER_EVENTS) RUNS=$(RUNS) $(GO) test -count=1 -timeout 60m -run '^TestBenchCluster$$' -v ./cmd/strata

bench-go:
	$(GO) test -run '^$$' -bench . -benchmem -count=1 ./storage/... ./engine/... ./ingest/... ./server/...
	$(GO) test -run '^$$' -bench 'KafkaIngest|Freshness|Handoff|ColdQuery' -benchtime 3x ./bench/inproc

lint:
	@fmt=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$fmt" ]; then echo "gofmt needed:"; echo "$$fmt"; exit 1; fi
	$(GO) vet ./...
	cd bench/duck && $(GO) vet -mod=mod ./...

# Outside programs the tests talk to (Debian): PostgreSQL 15 server, psql, kcat.
deps:
	.ci/install-deps

clean:
	rm -rf bin strata-demo
