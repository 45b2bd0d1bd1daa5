package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/ingest/stream"
	"github.com/stratadb/strata/server/gssauth"
	serverhttp "github.com/stratadb/strata/server/http"
	"github.com/stratadb/strata/server/pgwire"
	"github.com/stratadb/strata/sql"
	"github.com/stratadb/strata/storage/catalog"
	"github.com/stratadb/strata/storage/lakecat"
	"github.com/stratadb/strata/storage/objstore"
	"github.com/stratadb/strata/storage/store"
)

type serveFlags struct {
	dataDir     string
	pgAddr      string
	httpAddr    string
	memoryLimit byteSize
	kafka       string // default brokers for tables that name none
	// cold tier
	handoffEvery time.Duration
	lakeCache    byteSize
	retention    time.Duration
	s3           objstore.Options
	lakeRoots    stringList
	// the cluster's catalog in the lake (issue 13 part 4)
	cluster        string
	clusterRefresh time.Duration
	followOnly     bool
	followMemory   byteSize
	// limits (issue 9, part 7)
	maxConnections     int
	superuserReserved  int
	maxMemory          byteSize
	statementTimeout   time.Duration
	idleSessionTimeout time.Duration
	idleInTxTimeout    time.Duration
	auth               authFlags // issue 9, parts 2, 3, 6 (cmd/strata/auth.go)
	// demo only
	events     int
	seed       int64
	kafkaAddr  string
	rate       int
	partitions int
}

func runServe(ctx context.Context, args []string, demo bool) error {
	name := "serve"
	if demo {
		name = "demo"
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	f := serveFlags{memoryLimit: 4 << 30, lakeCache: store.DefaultLakeCacheBytes}
	defaultDir := "./strata-data"
	if demo {
		defaultDir = "./strata-demo"
	}
	fs.StringVar(&f.dataDir, "data-dir", defaultDir, "data directory (catalog and segments)")
	fs.StringVar(&f.pgAddr, "pg-addr", "127.0.0.1:5433", "PostgreSQL wire protocol listen address")
	fs.StringVar(&f.httpAddr, "http-addr", "127.0.0.1:8080", "HTTP listen address (health); empty to disable")
	fs.Var(&f.memoryLimit, "memory-limit", "per-query memory limit (e.g. 4GiB)")
	fs.StringVar(&f.kafka, "kafka-brokers", "", "Kafka brokers (host:port,...) for tables created WITH (kafka_topic = ...) that name no kafka_brokers")
	fs.BoolVar(&f.followOnly, "kafka-follow-only", false, "join no Kafka consumer group: own no partition and follow every partition of each Kafka table whose lake_path the group shares, into memory (a node that only answers queries)")
	f.followMemory = stream.DefaultFollowBytes
	fs.Var(&f.followMemory, "follow-memory", "memory per Kafka table (rejects included) for the rows of partitions this node follows; past it the node stops following the partition holding the most, shows it as its lake holds it (strata_ingest_status state 'memory-limit') and follows it again once the lake has caught up")
	fs.DurationVar(&f.handoffEvery, "handoff-interval", 30*time.Second, "how often closed time chunks, and everything a Kafka table with a lake_path persisted, are handed to each table's Delta Lake table (0: never)")
	fs.Var(&f.lakeCache, "lake-cache", "size limit of the local cache of lake files materialized as segments")
	fs.DurationVar(&f.retention, "local-retention", store.DefaultLocalRetention, "how long local copies of lake files (handed-off segments, materialized lake files) are kept after their last use")
	fs.StringVar(&f.s3.Endpoint, "s3-endpoint", "", "S3 endpoint for s3:// lake paths (default: AWS_ENDPOINT_URL or AWS)")
	fs.StringVar(&f.s3.Region, "s3-region", "", "S3 region (default: AWS_REGION, then us-east-1)")
	fs.BoolVar(&f.s3.PathStyle, "s3-path-style", false, "path-style S3 addressing (most S3-compatible servers need it)")
	// Part 1 of the security model: where client-given paths may lead.
	fs.Var(&f.lakeRoots, "lake-root", "a folder or s3://bucket/prefix under which lake_path, CREATE EXTERNAL TABLE, delta_scan and COPY ... FROM 'file' may name locations (repeatable; default <data dir>/lake)")
	fs.StringVar(&f.cluster, "cluster", "", "s3://bucket/prefix or a folder holding the cluster's catalog: every table's definition and the roles, in Delta tables every node sharing it reads (see the README's \"Tables on every node\"); empty: this node's catalog alone")
	fs.DurationVar(&f.clusterRefresh, "cluster-refresh", lakecat.DefaultRefresh, "how often the --cluster location is read for other nodes' CREATE/ALTER/DROP TABLE and role changes")
	// Limits (issue 9, part 7): PostgreSQL's max_connections,
	// superuser_reserved_connections and timeouts, and a server-wide memory cap.
	f.maxMemory = byteSize(defaultMaxMemory())
	fs.IntVar(&f.maxConnections, "max-connections", 100, "most client connections at once (PostgreSQL's max_connections); more get 53300")
	fs.IntVar(&f.superuserReserved, "superuser-reserved-connections", 3, "connection slots of --max-connections only superusers may take")
	fs.Var(&f.maxMemory, "max-memory", "memory all running queries may hold together (default 75% of RAM or of the cgroup limit); a query that cannot get memory waits briefly, then fails with 53200")
	fs.DurationVar(&f.statementTimeout, "statement-timeout", 0, "default statement_timeout: statements (COPY and HTTP included) running longer are cancelled with 57014 (0: none)")
	fs.DurationVar(&f.idleSessionTimeout, "idle-session-timeout", 0, "default idle_session_timeout: connections idle longer are closed with 57P05; also the HTTP keep-alive limit (0: none)")
	fs.DurationVar(&f.idleInTxTimeout, "idle-in-transaction-session-timeout", 0, "default idle_in_transaction_session_timeout: connections idle inside a transaction longer are closed with 25P03 (0: none)")
	// Authentication and TLS (issue 9, parts 2, 3 and 6): --hba-file, --password-file,
	// --tls-cert, --tls-key, --http-auth-all.
	f.auth.register(fs)
	if demo {
		fs.IntVar(&f.events, "events", 1_000_000, "generated history events to load when the table is empty")
		fs.Int64Var(&f.seed, "seed", 1, "generator seed")
		fs.StringVar(&f.kafkaAddr, "kafka-addr", "127.0.0.1:9092", "listen address of the embedded Kafka broker")
		fs.IntVar(&f.rate, "rate", 5000, "live events per second produced to the embedded broker (0: none)")
		fs.IntVar(&f.partitions, "partitions", 4, "partitions of "+demoTopic)
	}
	// Kerberos (issue 9 part 4): the keys hba rules with method gss accept
	// tickets with (PostgreSQL's krb_server_keyfile); without the flag such
	// rules refuse every client.
	krbKeytab := fs.String("krb-keytab", "", "Kerberos keytab holding postgres/<host>@REALM keys, for hba rules with method gss")
	krbSkew := fs.Duration("krb-clock-skew", gssauth.DefaultMaxClockSkew, "largest clock difference accepted between a Kerberos client and the server (krb5.conf clockskew)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var gss pgwire.GSSAcceptor
	if *krbKeytab != "" {
		a, err := gssauth.Load(*krbKeytab, gssauth.MaxClockSkew(*krbSkew))
		if err != nil {
			return fmt.Errorf("--krb-keytab: %w", err)
		}
		fmt.Printf("kerberos: accepting tickets for %s\n", strings.Join(a.Principals(), ", "))
		gss = a
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	slog.SetDefault(log) // the engine logs recovered panics through the default logger
	setSoftMemoryLimit()

	if err := os.MkdirAll(f.dataDir, 0o700); err != nil {
		return err
	}
	roots := f.lakeRoots
	if f.cluster != "" {
		// Tables' lakes default to folders under the cluster location.
		if len(roots) == 0 {
			roots = stringList{filepath.Join(f.dataDir, "lake")}
		}
		roots = append(roots, f.cluster)
	}
	st, err := store.Open(f.dataDir, store.Options{ObjStore: f.s3, LakeCacheBytes: int64(f.lakeCache), LocalRetention: f.retention, LakeRoots: roots})
	if err != nil {
		return fmt.Errorf("open data dir %s: %w", f.dataDir, err)
	}
	defer st.Close()
	var brokers []string
	if f.kafka != "" {
		brokers = strings.Split(f.kafka, ",")
	}
	if demo {
		broker, err := startBroker(f.kafkaAddr, f.dataDir, int32(f.partitions))
		if err != nil {
			return err
		}
		defer broker.Close()
		brokers = []string{f.kafkaAddr}
	}
	ing := stream.NewManager(st, stream.Options{Logger: log, Brokers: brokers, FollowOnly: f.followOnly, FollowBytes: int64(f.followMemory)})
	defer ing.Close()
	var cluster sql.Cluster
	if f.cluster != "" {
		cl, err := lakecat.Open(ctx, st, f.cluster, lakecat.Options{ObjStore: f.s3, Refresh: f.clusterRefresh, Logger: log,
			OnCreate: func(def catalog.TableDef) {
				if err := ing.Start(def); err != nil {
					log.Error("Kafka ingestion of a table another node created did not start", "table", def.Name, "err", err)
				}
			},
			OnDrop: ing.Stop,
			OnAlter: func(def catalog.TableDef) {
				if !stream.IsStreaming(def) {
					return
				}
				ing.Stop(def.Name)
				if err := ing.Start(def); err != nil {
					log.Error("Kafka ingestion of a table another node altered did not restart", "table", def.Name, "err", err)
				}
			}})
		if err != nil {
			return fmt.Errorf("--cluster: %w", err)
		}
		cctx, stopCluster := context.WithCancel(ctx)
		clusterDone := make(chan struct{})
		defer func() { stopCluster(); <-clusterDone }() // before st.Close
		go func() { defer close(clusterDone); cl.Run(cctx) }()
		cluster = cl
		fmt.Printf("cluster: table definitions and roles in %s\n", cl.Location())
	}
	db := sql.Open(st, sql.Options{MemoryLimit: int64(f.memoryLimit), Ingest: ing, Cluster: cluster,
		Budget:           engine.NewMemoryBudget(int64(f.maxMemory), 0),
		StatementTimeout: f.statementTimeout, IdleSessionTimeout: f.idleSessionTimeout, IdleInTransactionSessionTimeout: f.idleInTxTimeout})
	sec, err := f.auth.setup(db, f.pgAddr, gss != nil, log)
	if err != nil {
		return err
	}
	go f.auth.reloadOnHangup(ctx, sec, log)
	if err := ing.StartAll(); err != nil {
		// A table whose ingestion cannot start (no brokers configured, say) must not
		// keep the server from serving its data.
		log.Error("some tables' Kafka ingestion did not start", "err", err)
	}

	if demo {
		if err := loadDemo(ctx, st, db, f.events, f.seed); err != nil {
			return err
		}
		if f.rate > 0 {
			pctx, stopProducer := context.WithCancel(ctx)
			defer stopProducer()
			go produceEvents(pctx, f.kafkaAddr, f.rate, f.seed, log)
		}
	}

	if f.handoffEvery > 0 {
		hctx, stopHandoff := context.WithCancel(ctx)
		handoffDone := make(chan struct{})
		defer func() { stopHandoff(); <-handoffDone }() // before st.Close
		go func() {
			defer close(handoffDone)
			st.RunHandoff(hctx, f.handoffEvery, func(table string, err error) {
				log.Error("handoff to the lake failed; retrying", "table", table, "err", err)
			})
		}()
	}

	ln, err := net.Listen("tcp", f.pgAddr)
	if err != nil {
		return fmt.Errorf("listen on --pg-addr %s: %w", f.pgAddr, err)
	}
	metrics := serverhttp.NewMetrics(serverhttp.Sources{Store: st, Ingest: ing})
	pg := pgwire.NewServer(pgwire.SQLBackend(db), pgwire.Options{Logger: log, OnStatement: metrics.ObserveStatement,
		MaxConnections: f.maxConnections, SuperuserReservedConnections: f.superuserReserved,
		HBA: sec.rules, TLSConfig: sec.tls, GSS: gss})
	db.SetBackends(pg) // pg_stat_activity, pg_cancel_backend, pg_terminate_backend
	metrics.SetConns(pg.Conns)
	errc := make(chan error, 2)
	go func() { errc <- pg.Serve(ln) }()

	var hs *http.Server
	if f.httpAddr != "" {
		hln, err := net.Listen("tcp", f.httpAddr)
		if err != nil {
			ln.Close()
			return fmt.Errorf("listen on --http-addr %s: %w", f.httpAddr, err)
		}
		hs = &http.Server{Handler: serverhttp.Handler(serverhttp.Config{Store: st, DB: db, Metrics: metrics,
			HBA: sec.rules, AuthAll: f.auth.httpAuthAll, Logger: log}), ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout: time.Minute, IdleTimeout: httpIdleTimeout(f.idleSessionTimeout)}
		if sec.tls != nil {
			hs.TLSConfig = sec.tls.Clone()
			hln = tls.NewListener(hln, hs.TLSConfig)
		}
		go func() { errc <- hs.Serve(hln) }()
	}
	abs, _ := filepath.Abs(f.dataDir)
	fmt.Printf("strata %s serving PostgreSQL on %s (data in %s)\n", version, ln.Addr(), abs)
	if f.httpAddr != "" {
		scheme := "http"
		if sec.tls != nil {
			scheme = "https"
		}
		fmt.Printf("http: %s://%s/healthz, /metrics (Prometheus), POST /v1/sql\n", scheme, f.httpAddr)
	}
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	fmt.Printf("connect: psql -h %s -p %s -U strata strata\n", host, port)
	if demo {
		fmt.Printf("live: %d events/s go to Kafka topic %s on %s and into %s within milliseconds\n", f.rate, demoTopic, f.kafkaAddr, demoTable)
		fmt.Printf("produce your own: echo '{\"timestamp\":\"%s\",\"user_id\":\"u1\",\"event\":\"purchase\",\"price\":9.5}' | kcat -b %s -t %s -P\n",
			time.Now().UTC().Format("2006-01-02T15:04:05"), f.kafkaAddr, demoTopic)
		fmt.Printf("watch: SELECT * FROM strata_ingest_status;\n")
	}

	select {
	case <-ctx.Done():
	case err := <-errc:
		if err != nil && !errors.Is(err, net.ErrClosed) && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	return shutdownServe(log, ing, hs, pg)
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }

func (l *stringList) Set(v string) error {
	*l = append(*l, v)
	return nil
}

// httpIdleTimeout is how long an HTTP keep-alive connection may wait for its next
// request: --idle-session-timeout, or two minutes without it.
func httpIdleTimeout(idle time.Duration) time.Duration {
	if idle > 0 {
		return idle
	}
	return 2 * time.Minute
}
