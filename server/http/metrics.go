package http

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/stratadb/strata/ingest/stream"
	"github.com/stratadb/strata/storage/store"
)

// Metrics is strata's Prometheus registry. Statement counts and latencies are
// observed as they happen (ObserveStatement, wired to the PostgreSQL server);
// everything else is read from the store, the ingestion manager and the server at
// scrape time, so no hot path pays for a metric it does not need.
type Metrics struct {
	reg     *prometheus.Registry
	queries *prometheus.CounterVec
	latency prometheus.Histogram
	conns   atomic.Pointer[func() int]
}

// Sources are what Metrics reads at scrape time. Ingest may be nil.
type Sources struct {
	Store  *store.Store
	Ingest *stream.Manager
}

// NewMetrics returns a registry with the Go runtime and process collectors and
// strata's own metrics.
func NewMetrics(src Sources) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.queries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "strata_statements_total",
		Help: "SQL statements run by clients, by SQLSTATE (00000: success).",
	}, []string{"sqlstate"})
	m.latency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "strata_statement_duration_seconds",
		Help:    "Time from a statement's arrival to its last row sent.",
		Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10), // 100 µs .. 26 s
	})
	m.reg.MustRegister(m.queries, m.latency,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&scrapeCollector{src: src, m: m})
	return m
}

// ObserveStatement records one statement (pgwire.Options.OnStatement).
func (m *Metrics) ObserveStatement(d time.Duration, sqlstate string) {
	m.queries.WithLabelValues(sqlstate).Inc()
	m.latency.Observe(d.Seconds())
}

// SetConns gives the function that counts open client connections.
func (m *Metrics) SetConns(f func() int) { m.conns.Store(&f) }

// Registry returns the registry (for tests and extra collectors).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

var (
	descIngestRows = prometheus.NewDesc("strata_ingest_rows_total",
		"Rows decoded from Kafka into a table since its ingestion started.", []string{"table"}, nil)
	descIngestRejects = prometheus.NewDesc("strata_ingest_rejects_total",
		"Kafka records that could not be decoded (kept in <table>_rejects).", []string{"table"}, nil)
	descIngestRate = prometheus.NewDesc("strata_ingest_rows_per_second",
		"Recent ingest rate of a table.", []string{"table"}, nil)
	descIngestLag = prometheus.NewDesc("strata_ingest_lag_records",
		"Records in a partition not yet consumed (high watermark minus next offset).", []string{"table", "partition"}, nil)
	descIngestOffset = prometheus.NewDesc("strata_ingest_committed_offset",
		"Next offset of a partition recorded in the catalog with the rows before it.", []string{"table", "partition"}, nil)
	descIngestLakeLag = prometheus.NewDesc("strata_ingest_lake_lag_records",
		"Records of a partition persisted by this process and not yet in the lake (committed offset minus the lake's offset).", []string{"table", "partition"}, nil)
	descIngestLakeLagSeconds = prometheus.NewDesc("strata_ingest_lake_lag_seconds",
		"How long the lake has trailed a partition's committed offset (0 when it does not).", []string{"table", "partition"}, nil)
	descIngestLost = prometheus.NewDesc("strata_ingest_lost_records_total",
		"DATA LOSS: records of a partition Kafka's retention deleted before any process persisted them (the lake's offset was below the log start).", []string{"table", "partition"}, nil)
	descIngestFollowLag = prometheus.NewDesc("strata_ingest_follow_lag_records",
		"Records of a partition this process follows (reads without owning it, to answer queries over every partition) not yet read: high watermark minus the next offset.", []string{"table", "partition"}, nil)
	descIngestUnassigned = prometheus.NewDesc("strata_ingest_unassigned_partitions",
		"Partitions of a table's topic that this process does not own and nobody seems to read: the group's lag stays above zero while its committed offset stands still.", []string{"table"}, nil)
	descIngestUnassignedLag = prometheus.NewDesc("strata_ingest_unassigned_lag_records",
		"Group lag (high watermark minus the group's committed offset) of an unassigned partition.", []string{"table", "partition"}, nil)
	descIngestRunning = prometheus.NewDesc("strata_ingest_running",
		"1 when a table's ingestion is running, 0 when paused, restarting or stopped.", []string{"table"}, nil)
	descPersists = prometheus.NewDesc("strata_persists_total",
		"Persists of a table's real-time head: segments and offsets committed in one catalog batch.", []string{"table"}, nil)
	descPersistSeconds = prometheus.NewDesc("strata_persist_seconds_total",
		"Total time spent persisting a table's head.", []string{"table"}, nil)
	descHeadRows = prometheus.NewDesc("strata_head_rows",
		"Rows in a table's real-time head (not yet in segments).", []string{"table"}, nil)
	descHeadBytes = prometheus.NewDesc("strata_head_bytes",
		"Approximate memory held by a table's real-time head.", []string{"table"}, nil)
	descFollowRows = prometheus.NewDesc("strata_follow_head_rows",
		"Rows in a table's follower heads: the partitions this process follows, read from Kafka into memory, not handed off by their owners yet (not in strata_head_rows).", []string{"table"}, nil)
	descFollowBytes = prometheus.NewDesc("strata_follow_head_bytes",
		"Approximate memory held by a table's follower heads (not in strata_head_bytes); bounded by --follow-memory per table with its rejects.", []string{"table"}, nil)
	descIngestFollowLimited = prometheus.NewDesc("strata_ingest_follow_memory_limited_partitions",
		"Partitions of a table this process stopped following at --follow-memory: shown as the lake holds them until the lake reaches where the follower let go.", []string{"table"}, nil)
	descSegments = prometheus.NewDesc("strata_segments",
		"Published segments of a table.", []string{"table"}, nil)
	descTables         = prometheus.NewDesc("strata_tables", "Tables in the catalog.", nil, nil)
	descCatalogVersion = prometheus.NewDesc("strata_catalog_commits_total",
		"Catalog batches committed (the catalog's version).", nil, nil)
	descConns = prometheus.NewDesc("strata_connections", "Open PostgreSQL client connections.", nil, nil)

	descLakeVersion = prometheus.NewDesc("strata_lake_version",
		"Delta Lake version a table's queries read.", []string{"table"}, nil)
	descLakeFiles = prometheus.NewDesc("strata_lake_files",
		"Data files in the Delta Lake version a table's queries read.", []string{"table"}, nil)
	descHandoffs = prometheus.NewDesc("strata_handoffs_total",
		"Handoffs of closed time chunks to Delta Lake committed since start.", nil, nil)
	descHandoffRows = prometheus.NewDesc("strata_handoff_rows_total",
		"Rows handed off to Delta Lake since start.", nil, nil)
	descHandoffBytes = prometheus.NewDesc("strata_handoff_bytes_total",
		"Parquet bytes written by handoffs since start.", nil, nil)
	descHandoffSeconds = prometheus.NewDesc("strata_handoff_seconds_total",
		"Time spent in committed handoffs since start.", nil, nil)
	descLakeChecks = prometheus.NewDesc("strata_lake_checks_total",
		"Checks of tables' Delta logs for versions other writers committed (lake_refresh), since start.", nil, nil)
	descLakeCheckErrors = prometheus.NewDesc("strata_lake_check_errors_total",
		"Checks of tables' Delta logs that failed (retried at the next), since start.", nil, nil)
	descLakeUpdates = prometheus.NewDesc("strata_lake_updates_total",
		"Newer Delta versions taken by checks of tables' logs, since start.", nil, nil)
	descLakeCacheBytes = prometheus.NewDesc("strata_lake_cache_bytes",
		"Bytes of lake files materialized as local segments.", nil, nil)
	descLakeCacheEntries = prometheus.NewDesc("strata_lake_cache_entries",
		"Lake files materialized as local segments.", nil, nil)
	descLakeCacheHits = prometheus.NewDesc("strata_lake_cache_hits_total",
		"Lake file loads served from the local cache.", nil, nil)
	descLakeCacheMisses = prometheus.NewDesc("strata_lake_cache_misses_total",
		"Lake files converted into the local cache.", nil, nil)
	descLakeCacheEvictions = prometheus.NewDesc("strata_lake_cache_evictions_total",
		"Lake cache entries deleted to stay under the size limit.", nil, nil)
)

// scrapeCollector reads the store, ingestion and connection state at scrape time.
type scrapeCollector struct {
	src Sources
	m   *Metrics
	mu  sync.Mutex // one scrape at a time
}

func (c *scrapeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descIngestRows, descIngestRejects, descIngestRate, descIngestLag, descIngestOffset, descIngestLakeLag, descIngestLakeLagSeconds, descIngestLost, descIngestFollowLag, descIngestUnassigned, descIngestUnassignedLag,
		descIngestRunning, descPersists, descPersistSeconds, descHeadRows, descHeadBytes, descFollowRows, descFollowBytes, descIngestFollowLimited, descSegments, descTables,
		descCatalogVersion, descConns, descLakeVersion, descLakeFiles, descHandoffs, descHandoffRows, descHandoffBytes,
		descHandoffSeconds, descLakeChecks, descLakeCheckErrors, descLakeUpdates, descLakeCacheBytes, descLakeCacheEntries, descLakeCacheHits, descLakeCacheMisses,
		descLakeCacheEvictions} {
		ch <- d
	}
}

func (c *scrapeCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	if f := c.m.conns.Load(); f != nil {
		gauge(descConns, float64((*f)()))
	}
	st := c.src.Store
	if st == nil {
		return
	}
	tables := st.Tables()
	gauge(descTables, float64(len(tables)))
	counter(descCatalogVersion, float64(st.Catalog().Version()))
	for _, def := range tables {
		rows, bytes := st.HeadStats(def.Name)
		gauge(descHeadRows, float64(rows), def.Name)
		gauge(descHeadBytes, float64(bytes), def.Name)
		rows, bytes = st.FollowStats(def.Name)
		gauge(descFollowRows, float64(rows), def.Name)
		gauge(descFollowBytes, float64(bytes), def.Name)
		gauge(descSegments, float64(len(st.Catalog().Segments(def.Name))), def.Name)
		if v, files, ok := st.LakeInfo(def.Name); ok {
			gauge(descLakeVersion, float64(v), def.Name)
			gauge(descLakeFiles, float64(files), def.Name)
		}
	}
	ls := st.LakeStats()
	counter(descHandoffs, float64(ls.Handoffs))
	counter(descHandoffRows, float64(ls.HandoffRows))
	counter(descHandoffBytes, float64(ls.HandoffBytes))
	counter(descHandoffSeconds, ls.HandoffSeconds)
	counter(descLakeChecks, float64(ls.LakeChecks))
	counter(descLakeCheckErrors, float64(ls.LakeCheckErrors))
	counter(descLakeUpdates, float64(ls.LakeUpdates))
	gauge(descLakeCacheBytes, float64(ls.Cache.Bytes))
	gauge(descLakeCacheEntries, float64(ls.Cache.Entries))
	counter(descLakeCacheHits, float64(ls.Cache.Hits))
	counter(descLakeCacheMisses, float64(ls.Cache.Misses))
	counter(descLakeCacheEvictions, float64(ls.Cache.Evictions))
	if c.src.Ingest == nil {
		return
	}
	seen := map[string]bool{}
	unassigned := map[string]int{}
	limited := map[string]int{}
	for _, s := range c.src.Ingest.Status() {
		if !seen[s.Table] {
			seen[s.Table] = true
			unassigned[s.Table] = 0
			limited[s.Table] = 0
			counter(descIngestRows, float64(s.TableRows), s.Table)
			counter(descIngestRejects, float64(s.TableRejects), s.Table)
			gauge(descIngestRate, s.TableRowsPerSec, s.Table)
			running := 0.0
			if s.TableState == "running" {
				running = 1
			}
			gauge(descIngestRunning, running, s.Table)
			counter(descPersists, float64(s.Persists), s.Table)
			counter(descPersistSeconds, s.PersistSeconds, s.Table)
		}
		if s.Partition < 0 {
			continue
		}
		p := strconv.Itoa(int(s.Partition))
		if s.LostRecords > 0 {
			counter(descIngestLost, float64(s.LostRecords), s.Table, p)
		}
		if s.FollowLag >= 0 {
			gauge(descIngestFollowLag, float64(s.FollowLag), s.Table, p)
		}
		if s.State == "unassigned" {
			unassigned[s.Table]++
			gauge(descIngestUnassignedLag, float64(s.Lag), s.Table, p)
			continue
		}
		if s.Role == "follower" {
			if s.State == "memory-limit" {
				limited[s.Table]++
			}
			continue
		}
		if s.Lag >= 0 {
			gauge(descIngestLag, float64(s.Lag), s.Table, p)
		}
		if s.CommittedOffset >= 0 {
			gauge(descIngestOffset, float64(s.CommittedOffset), s.Table, p)
		}
		if s.LakeLag >= 0 {
			gauge(descIngestLakeLag, float64(s.LakeLag), s.Table, p)
			gauge(descIngestLakeLagSeconds, s.LakeLagSeconds, s.Table, p)
		}
	}
	for table, n := range unassigned {
		gauge(descIngestUnassigned, float64(n), table)
	}
	for table, n := range limited {
		gauge(descIngestFollowLimited, float64(n), table)
	}
}
