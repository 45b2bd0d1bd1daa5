package stream

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/stratadb/strata/ingest"
	"github.com/stratadb/strata/ingest/kafka"
	"github.com/stratadb/strata/storage"
	"github.com/stratadb/strata/storage/catalog"
	"github.com/stratadb/strata/storage/rollup"
	"github.com/stratadb/strata/storage/store"
)

// Supervisor ingests one table's topic. It implements kafka.Handler: the consumer
// calls Assigned, Revoked, Lost and Records from one goroutine; the persister runs
// beside it.
type Supervisor struct {
	m       *Manager
	def     catalog.TableDef
	cfg     Config
	table   string
	rejects string
	tc      int // time column

	cancel  context.CancelFunc
	done    chan struct{}
	paused  atomic.Bool
	started time.Time // when the supervisor started

	// mu orders appends to the heads, next and Freeze: a persist takes its Freeze
	// and its offsets under mu, so the offsets are exactly those past its rows.
	mu          sync.Mutex
	next        map[int32]int64 // next offset past the records in the head or published
	cols, rej   *storage.Columns
	cols2, rej2 *storage.Columns // the second half of a large batch
	dec         *ingest.RecordDecoder
	dec2        *ingest.RecordDecoder // decodes the second half
	spec        *rollup.Spec          // rollup tables: rows are rolled up before the head
	cons        *kafka.Consumer
	// fol follows the partitions this run does not own (the lake checkpoint
	// only; nil otherwise: follower.go).
	fol *follower
	// owned are the partitions this run owns (the lake checkpoint only: the
	// store reads and hands off these partitions' rows, store.SetOwned).
	owned map[int32]bool
	// skipRows and skipRej: after a partition resumed below where the lake of
	// the table (skipRows) or of its rejects (skipRej) holds it, the rows, or
	// the rejects, of records below that offset are already in their lake and
	// are dropped (the two lakes are committed apart).
	skipRows, skipRej map[int32]int64
	sinceFreeze       int // rows appended since the last Freeze
	// newestChunk is the start of the newest time chunk a row fell in (µs); a row in a
	// newer chunk closes it, and its rows are persisted at once.
	newestChunk int64
	// lastOptimize is when the persister last looked at the lake's files
	// (maybeOptimize; persister goroutine only); optimizing while an OPTIMIZE
	// it started runs, optimizeWG until it ends.
	lastOptimize time.Time
	optimizing   atomic.Bool
	optimizeWG   sync.WaitGroup
	// persistMu lets one persist run at a time; lastPersist is guarded by it.
	persistMu   sync.Mutex
	lastPersist time.Time
	kick        chan struct{} // asks the persister for an early persist
	failed      atomic.Bool   // this run failed: Revoked must not persist
	failure     chan error    // the first persist failure of this run

	stat struct {
		sync.Mutex
		rows, rejects int64
		rate          float64
		lastRows      int64
		lastAt        time.Time
		// part holds each partition's own figures.
		part        map[int32]*partStat
		state       string
		lastErr     string
		persists    int64
		persistSecs float64
		// unassigned: partitions reported unassigned (warned about) and not
		// yet read again.
		unassigned map[int32]bool
		// lost counts, per partition, records Kafka's retention deleted before
		// any process persisted them (kafka.DataLossHandler).
		lost map[int32]int64
	}
}

func newSupervisor(m *Manager, def catalog.TableDef, cfg Config) *Supervisor {
	s := &Supervisor{m: m, def: def, cfg: cfg, table: def.Name, rejects: def.Name + RejectsSuffix,
		tc: def.Schema.TimeColumn, done: make(chan struct{})}
	s.cfg.Kafka.Logger = m.log
	s.stat.state = "starting"
	return s
}

func (s *Supervisor) start() {
	s.started = time.Now()
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go s.loop(ctx)
}

// stop ends ingestion: the consumer leaves the group after Revoked persisted the head.
func (s *Supervisor) stop() {
	s.cancel()
	<-s.done
	s.setState("stopped", "")
}

func (s *Supervisor) setPaused(p bool) {
	s.paused.Store(p)
	s.mu.Lock()
	c := s.cons
	s.mu.Unlock()
	if c != nil {
		if p {
			c.Pause()
		} else {
			c.Resume()
		}
	}
	if p {
		s.setState("paused", "")
	} else {
		s.setState("running", "")
	}
}

func (s *Supervisor) setState(state, lastErr string) {
	s.stat.Lock()
	defer s.stat.Unlock()
	s.stat.state = state
	if lastErr != "" {
		s.stat.lastErr = lastErr
	}
}

// loop runs the consumer until ctx ends, starting it again after a failure.
func (s *Supervisor) loop(ctx context.Context) {
	defer close(s.done)
	for {
		err := s.run(ctx)
		if ctx.Err() != nil {
			return
		}
		s.m.log.Error("ingestion failed; restarting from the committed offsets", "table", s.table, "err", err)
		s.setState("restarting", err.Error())
		select {
		case <-ctx.Done():
			return
		case <-time.After(s.m.opts.Restart):
		}
	}
}

// run is one consumer lifetime: a fresh head, offsets from the catalog.
func (s *Supervisor) run(ctx context.Context) error {
	s.m.st.DiscardHead(s.table)
	s.m.st.DiscardHead(s.rejects)
	def, ok := s.m.st.Table(s.table)
	if !ok || def.ID != s.def.ID {
		return fmt.Errorf("table %s: dropped", s.table)
	}
	rdef, ok := s.m.st.Table(s.rejects)
	if !ok {
		return fmt.Errorf("table %s: %s is missing", s.table, s.rejects)
	}
	spec, err := rollup.Of(def)
	if err != nil {
		return err
	}
	schema := &def.Schema // what records decode into
	if spec != nil {
		schema = spec.Logical
	}
	dec, err := ingest.NewRecordDecoder(schema, ingest.RecordOptions{KeepUnknown: s.cfg.KeepUnknown, MaxRecordBytes: s.cfg.MaxRecordBytes})
	if err != nil {
		return err
	}
	cons, err := kafka.New(s.cfg.Kafka, s)
	if err != nil {
		return err
	}
	if s.paused.Load() {
		cons.Pause()
	}
	if s.cfg.Kafka.StoredIsExact {
		// Until partitions are assigned, this process reads none of the rows it
		// persisted: another process may own them now (store.SetOwned).
		s.m.st.SetOwned(s.table, []string{})
		s.m.st.SetOwned(s.rejects, []string{})
	}
	s.mu.Lock()
	s.next = map[int32]int64{}
	s.owned = map[int32]bool{}
	s.skipRows, s.skipRej = map[int32]int64{}, map[int32]int64{}
	dec2, err := ingest.NewRecordDecoder(schema, ingest.RecordOptions{KeepUnknown: s.cfg.KeepUnknown, MaxRecordBytes: s.cfg.MaxRecordBytes})
	if err != nil {
		s.mu.Unlock()
		return err
	}
	s.dec, s.dec2 = dec, dec2
	s.spec = spec
	s.cols, s.cols2 = storage.NewColumns(schema, 1024), storage.NewColumns(schema, 1024)
	s.rej, s.rej2 = storage.NewColumns(&rdef.Schema, 16), storage.NewColumns(&rdef.Schema, 16)
	s.cons = cons
	s.sinceFreeze = 0
	s.mu.Unlock()
	var fo *follower
	if s.cfg.Kafka.StoredIsExact {
		if fo, err = s.newFollower(schema, &rdef.Schema); err != nil {
			return err
		}
	}
	s.mu.Lock()
	s.fol = fo
	s.mu.Unlock()
	s.failed.Store(false)
	s.failure = make(chan error, 1)
	s.kick = make(chan struct{}, 1)
	s.lastPersist = time.Now()
	if !s.paused.Load() {
		s.setState("running", "")
	}

	runCtx, cancel := context.WithCancel(ctx)
	if s.cfg.Kafka.StoredIsExact {
		hooks := &store.HandoffHooks{Before: s.stillOwner, Moved: func(srcs []string) {
			s.fail(fmt.Errorf("table %s: partitions %v were handed off by another process meanwhile; taking them up again from the lake: %w", s.table, srcs, store.ErrSourceMoved), cancel)
		}}
		s.m.st.SetHandoffHooks(s.table, hooks)
		s.m.st.SetHandoffHooks(s.rejects, hooks)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); s.persister(runCtx, cancel) }()
	if fo != nil {
		wg.Add(1)
		go func() { defer wg.Done(); fo.run(runCtx) }()
	}
	if s.m.opts.FollowOnly {
		if fo == nil {
			s.setState("follow-only", "this process joins no consumer group (--kafka-follow-only) and the table's lake is not the checkpoint of its partitions, so it shows the table's lake alone")
		}
		<-runCtx.Done()
		err = nil
	} else {
		err = cons.Run(runCtx)
	}
	cancel()
	wg.Wait()
	s.optimizeWG.Wait()
	s.mu.Lock()
	s.cons, s.fol = nil, nil
	s.mu.Unlock()
	select {
	case perr := <-s.failure:
		return perr
	default:
	}
	if ctx.Err() != nil {
		return nil
	}
	if err == nil {
		err = errors.New("consumer stopped")
	}
	return err
}

// persister persists the head every PersistEvery, and early when kicked.
func (s *Supervisor) persister(ctx context.Context, cancel context.CancelFunc) {
	tick := time.NewTicker(min(s.cfg.PersistEvery, time.Second))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			s.sampleRate()
			s.checkUnassigned()
			s.maybeOptimize(ctx)
			s.persistMu.Lock()
			due := time.Since(s.lastPersist) >= s.cfg.PersistEvery
			s.persistMu.Unlock()
			if !due {
				continue
			}
		case <-s.kick:
		}
		if err := s.persist(ctx); err != nil {
			s.fail(err, cancel)
			return
		}
	}
}

// maybeOptimize starts an OPTIMIZE of the table's and its rejects' lakes when
// the lake is the checkpoint, this process owns a partition, Options.OptimizeEvery
// has passed since the last look and a lake has Options.OptimizeAtFiles data
// files or more, under the lake's OPTIMIZE lease (one process at a time; when
// another holds it, nothing is done until the next look). It runs beside
// ingestion (handoffs wait for it); the run waits for it before it ends.
func (s *Supervisor) maybeOptimize(ctx context.Context) {
	if !s.cfg.Kafka.StoredIsExact || time.Since(s.lastOptimize) < s.m.opts.OptimizeEvery {
		return
	}
	s.mu.Lock()
	owner := len(s.owned) > 0
	s.mu.Unlock()
	if !owner || !s.optimizing.CompareAndSwap(false, true) {
		return
	}
	s.lastOptimize = time.Now()
	s.optimizeWG.Add(1)
	go func() {
		defer s.optimizeWG.Done()
		defer s.optimizing.Store(false)
		for _, t := range []string{s.table, s.rejects} {
			_, files, ok := s.m.st.LakeInfo(t)
			if !ok || files < s.m.opts.OptimizeAtFiles {
				continue
			}
			res, err := s.m.st.OptimizeUnderLease(ctx, t, s.m.opts.OptimizeLease, 0, "")
			if errors.Is(err, store.ErrLeaseHeld) {
				s.m.log.Debug("background OPTIMIZE: another process holds the lease", "table", t, "err", err)
				continue
			}
			if err != nil {
				if ctx.Err() == nil {
					s.m.log.Warn("background OPTIMIZE failed; tried again later", "table", t, "err", err)
				}
				continue
			}
			s.m.log.Info("background OPTIMIZE", "table", t, "files_before", files, "removed", res.FilesRemoved, "added", res.FilesAdded, "version", res.Version)
		}
	}()
}

// fail records the run's first failure and ends the run; its head is discarded.
func (s *Supervisor) fail(err error, cancel context.CancelFunc) {
	if s.failed.CompareAndSwap(false, true) {
		s.failure <- err
	}
	cancel()
}

// persist publishes what the heads hold with the offsets past it, and then
// commits those offsets to the consumer group.
func (s *Supervisor) persist(ctx context.Context) error { return s.persistHint(ctx, true) }

// persistHint is persist, committing the group offsets only when hint is set.
func (s *Supervisor) persistHint(ctx context.Context, hint bool) error {
	s.persistMu.Lock()
	defer s.persistMu.Unlock()
	if s.failed.Load() {
		return errors.New("ingestion failed")
	}
	s.mu.Lock()
	fr, err := s.m.st.Freeze(s.rejects)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	fm, err := s.m.st.Freeze(s.table)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	next := make(map[int32]int64, len(s.next))
	for p, o := range s.next {
		next[p] = o
	}
	s.sinceFreeze = 0
	cons := s.cons
	s.mu.Unlock()
	s.lastPersist = time.Now()

	// Publishing must not stop half-way because the run is ending: Revoked at
	// shutdown persists after the run's context ended.
	pctx := context.WithoutCancel(ctx)
	committed := s.m.st.Catalog().Offsets(s.table)
	offsets := make(map[string]int64, len(next))
	for p, o := range next {
		k := offsetKey(s.cfg.Kafka.Topic, p)
		if committed[k] != o {
			offsets[k] = o
		}
	}
	// The rejects and the rows of the same records, with the offsets past both, in
	// one catalog commit: a crash keeps all three or none.
	var pub *store.Publication
	if rejectsApart != nil {
		if err := s.m.st.PublishFrozen(pctx, fr, nil); err != nil {
			return err
		}
		rejectsApart(fr.Rows())
		if pub, err = s.m.st.PublishFrozenAll(pctx, store.FrozenPart{Frozen: fm, Offsets: offsets}); err != nil {
			return err
		}
	} else if pub, err = s.m.st.PublishFrozenAll(pctx, store.FrozenPart{Frozen: fr}, store.FrozenPart{Frozen: fm, Offsets: offsets}); err != nil {
		return err
	}
	if hint && cons != nil && len(offsets) > 0 {
		if err := cons.Commit(pctx, next); errors.Is(err, kafka.ErrNotCommitted) {
			return s.retract(pub, err)
		} else if err != nil {
			s.m.log.Warn("group offset hint not committed", "table", s.table, "err", err)
		}
	}
	s.compactIfNeeded(pctx)
	s.stat.Lock()
	s.stat.persists++
	s.stat.persistSecs += time.Since(s.lastPersist).Seconds()
	s.stat.Unlock()
	return nil
}

// retract takes back pub, a persist whose offsets the group refused (cause): this
// member was fenced or had lost a partition, so the partitions' next owner reads
// them again from the group's older offsets, and keeping the rows would hold
// them twice. The rows left the head when they were published; the run fails
// and the next one consumes again from max(catalog, group) offsets.
func (s *Supervisor) retract(pub *store.Publication, cause error) error {
	if err := s.m.st.Retract(pub); err != nil {
		s.m.log.Error("rows published with offsets the consumer group refused could not be taken back; the partitions' next owner may read them again",
			"table", s.table, "refused", cause, "err", err)
		return fmt.Errorf("table %s: %w (and taking the persist back failed: %v)", s.table, cause, err)
	}
	s.m.log.Warn("the consumer group refused a persist's offsets; its rows were taken back and ingestion restarts from the committed offsets",
		"table", s.table, "err", cause)
	return fmt.Errorf("table %s: persist taken back: %w", s.table, cause)
}

// compactIfNeeded merges the persisted segments of a chunk once it holds
// compactAt of one partition (store.Compact merges per chunk and partition).
func (s *Supervisor) compactIfNeeded(ctx context.Context) {
	type key struct {
		chunk  int64
		source string
	}
	perChunk := map[key]int{}
	for _, seg := range s.m.st.Catalog().Segments(s.table) {
		k := key{seg.ChunkStart, seg.Source}
		perChunk[k]++
		if perChunk[k] >= compactAt {
			if err := s.m.st.Compact(ctx, s.table); err != nil {
				s.m.log.Warn("compaction failed", "table", s.table, "err", err)
			}
			return
		}
	}
}

func offsetKey(topic string, p int32) string { return topic + "/" + strconv.Itoa(int(p)) }

// Assigned returns the resume offsets of the newly assigned partitions: the
// catalog's, or, when the lake is the checkpoint (kafka.Config.StoredIsExact),
// see resumeFromLake.
func (s *Supervisor) Assigned(ctx context.Context, partitions []int32) (map[int32]int64, error) {
	if s.cfg.Kafka.StoredIsExact {
		return s.resumeFromLake(ctx, partitions)
	}
	committed := s.m.st.Catalog().Offsets(s.table)
	out := map[int32]int64{}
	for _, p := range partitions {
		if o, ok := committed[offsetKey(s.cfg.Kafka.Topic, p)]; ok {
			out[p] = o
		}
	}
	s.m.log.Info("partitions assigned", "table", s.table, "partitions", partitions, "resume", out)
	return out, nil
}

// resumeFromLake decides where each newly assigned partition resumes when the
// lake is the checkpoint every process shares. The lake of the table and the
// lake of its rejects each hold, per partition, a txn: the offset below which
// every row (reject) of the partition is in that lake. This process's local
// segments of a partition continue exactly from there when the store's
// LakeState.Offsets of the partition equal the txns (nobody handed the partition
// off since this process last did, or last took it): it then resumes at its
// catalog offset. Otherwise its local rows of the partition are below the lake's
// offset (another process handed them off) or may be read again by Kafka, and
// are dropped (store.ResetSource); it resumes at the lower of the two txns and
// drops the rows, or the rejects, of records the other lake holds.
func (s *Supervisor) resumeFromLake(ctx context.Context, partitions []int32) (map[int32]int64, error) {
	srcs := make([]string, len(partitions))
	for i, p := range partitions {
		srcs[i] = offsetKey(s.cfg.Kafka.Topic, p)
	}
	// A handoff a crash left between its Delta commit and its catalog mark is
	// finished first: its partitions then continue from the lake.
	for _, t := range []string{s.table, s.rejects} {
		if err := s.m.st.ResolvePending(ctx, t); err != nil {
			return nil, fmt.Errorf("table %s: %w", t, err)
		}
	}
	lr, err := s.m.st.LakeOffsets(ctx, s.table, srcs)
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", s.table, err)
	}
	lj, err := s.m.st.LakeOffsets(ctx, s.rejects, srcs)
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", s.rejects, err)
	}
	committed := s.m.st.Catalog().Offsets(s.table)
	out := map[int32]int64{}
	var dropped []int32
	skipRows, skipRej := map[int32]int64{}, map[int32]int64{}
	for i, p := range partitions {
		src := srcs[i]
		r, hasR := lr[src]
		j, hasJ := lj[src]
		rs, js := s.m.st.Source(s.table, src), s.m.st.Source(s.rejects, src)
		c, hasC := committed[src]
		if rs.HasLake == hasR && rs.Lake == r && js.HasLake == hasJ && js.Lake == j && (hasC || !hasR) {
			if hasC {
				out[p] = c // the local segments continue from the lake
			}
			continue
		}
		// Resume at the lower txn (none: the log start).
		resume, has := int64(-1), false
		if hasR && hasJ {
			resume, has = min(r, j), true
		}
		if err := s.m.st.ResetSource(ctx, s.table, src, resume,
			store.SourceReset{Table: s.table, Lake: r, HasLake: hasR},
			store.SourceReset{Table: s.rejects, Lake: j, HasLake: hasJ}); err != nil {
			return nil, fmt.Errorf("table %s: partition %d: %w", s.table, p, err)
		}
		dropped = append(dropped, p)
		if has {
			out[p] = resume
		}
		if hasR && (!has || r > resume) {
			skipRows[p] = r
		}
		if hasJ && (!has || j > resume) {
			skipRej[p] = j
		}
	}
	s.mu.Lock()
	for _, p := range partitions {
		s.owned[p] = true
	}
	maps.Copy(s.skipRows, skipRows)
	maps.Copy(s.skipRej, skipRej)
	owned := s.ownedSourcesLocked()
	fo := s.fol
	s.mu.Unlock()
	s.m.st.SetOwned(s.table, owned)
	s.m.st.SetOwned(s.rejects, owned)
	fo.wake() // stop following them
	s.m.log.Info("partitions assigned", "table", s.table, "partitions", partitions, "resume", out,
		"lake", lr, "rejects_lake", lj, "local_rows_dropped", dropped)
	return out, nil
}

// stillOwner is the Before hook of handoffs by offset: it commits the catalog
// offsets of the owned partitions to the consumer group, which refuses a member
// that was dropped from the group or lost a partition (kafka.ErrNotCommitted),
// so a process that no longer owns a partition does not hand its rows off.
func (s *Supervisor) stillOwner(ctx context.Context) error {
	s.mu.Lock()
	cons := s.cons
	owned := slices.Collect(maps.Keys(s.owned))
	s.mu.Unlock()
	if cons == nil {
		return fmt.Errorf("table %s: not consuming", s.table)
	}
	committed := s.m.st.Catalog().Offsets(s.table)
	next := map[int32]int64{}
	for _, p := range owned {
		if o, ok := committed[offsetKey(s.cfg.Kafka.Topic, p)]; ok {
			next[p] = o
		}
	}
	if err := cons.Commit(ctx, next); err != nil {
		return fmt.Errorf("table %s: not handing off: the consumer group did not confirm this process owns partitions %v: %w", s.table, owned, err)
	}
	return nil
}

// ownedSourcesLocked returns the sources of the owned partitions. REQUIRES: s.mu is held.
func (s *Supervisor) ownedSourcesLocked() []string {
	out := make([]string, 0, len(s.owned))
	for p := range s.owned {
		out = append(out, offsetKey(s.cfg.Kafka.Topic, p))
	}
	return out
}

// disown stops reading and handing off partitions (the lake checkpoint only).
func (s *Supervisor) disown(partitions []int32) {
	if !s.cfg.Kafka.StoredIsExact {
		return
	}
	s.mu.Lock()
	for _, p := range partitions {
		delete(s.owned, p)
		delete(s.skipRows, p)
		delete(s.skipRej, p)
	}
	owned := s.ownedSourcesLocked()
	fo := s.fol
	s.mu.Unlock()
	s.m.st.SetOwned(s.table, owned)
	s.m.st.SetOwned(s.rejects, owned)
	fo.wake() // follow them from the lake's offsets
}

// DataLoss is kafka.DataLossHandler: records of partition from resume to start
// were deleted by the topic's retention before any process persisted them.
func (s *Supervisor) DataLoss(partition int32, resume, start int64) {
	s.m.log.Error("DATA LOSS: the lake's offset of a partition is below the topic's log start; the records between were never persisted and are gone",
		"table", s.table, "topic", s.cfg.Kafka.Topic, "partition", partition, "lake_offset", resume, "log_start", start, "lost", start-resume)
	s.stat.Lock()
	if s.stat.lost == nil {
		s.stat.lost = map[int32]int64{}
	}
	s.stat.lost[partition] += start - resume
	s.stat.Unlock()
	s.mu.Lock()
	delete(s.skipRows, partition) // nothing below start will come
	delete(s.skipRej, partition)
	s.mu.Unlock()
}

// Revoked persists the head, so the rows of the revoked partitions are published
// with their offsets before another member reads past them.
func (s *Supervisor) Revoked(ctx context.Context, partitions []int32) {
	if s.failed.Load() {
		return
	}
	if err := s.persistHint(ctx, !skipRevokeCommit); err != nil {
		s.m.log.Error("persist at revocation failed", "table", s.table, "err", err)
		s.failed.Store(true)
		select {
		case s.failure <- err:
		default:
		}
		return
	}
	if s.cfg.Kafka.StoredIsExact {
		// Hand the partitions' rows to the lake before they move, so their next
		// owner resumes where this process stopped; whatever fails to go stays
		// local, unread, and the next owner reads it again from Kafka.
		hctx := context.WithoutCancel(ctx)
		for _, t := range []string{s.rejects, s.table} {
			if _, err := s.m.st.Handoff(hctx, t, time.Now()); err != nil {
				s.m.log.Warn("handoff at revocation failed; the next owner reads these partitions' rows again from Kafka", "table", t, "err", err)
			}
		}
		s.disown(partitions)
	}
	s.mu.Lock()
	for _, p := range partitions {
		delete(s.next, p)
	}
	cons := s.cons
	s.mu.Unlock()
	// The next owner resumes at the group's offsets (when above its own catalog's):
	// hint the catalog offsets of every revoked partition again, whether or not this
	// persist moved them, since an earlier hint may have failed.
	committed := s.m.st.Catalog().Offsets(s.table)
	hint := map[int32]int64{}
	for _, p := range partitions {
		if o, ok := committed[offsetKey(s.cfg.Kafka.Topic, p)]; ok {
			hint[p] = o
		}
	}
	if cons == nil || len(hint) == 0 || skipRevokeCommit {
		return
	}
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		if err = cons.CommitHint(context.WithoutCancel(ctx), hint); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond << attempt)
	}
	s.m.log.Warn("group offset hint at revocation not committed; the next owner may re-read", "table", s.table, "err", err)
}

// Lost: another member may already read these partitions from the last hint, so
// the head's rows must be forgotten; the run ends and restarts from the catalog.
func (s *Supervisor) Lost(ctx context.Context, partitions []int32) {
	s.disown(partitions)
	err := fmt.Errorf("partitions %v lost (fell out of the consumer group)", partitions)
	if s.failed.CompareAndSwap(false, true) {
		s.failure <- err
	}
}

// Records decodes a batch into the heads: each partition's rows (and rejects)
// into a head of the partition's own (store.AppendHeadSource), so that they are
// persisted, handed off and dropped by the partition's offsets.
func (s *Supervisor) Records(ctx context.Context, recs []kafka.Record) error {
	if s.failed.Load() {
		return errors.New("ingestion failed")
	}
	s.mu.Lock()
	var late int64
	if s.cfg.LateRejection > 0 {
		late = time.Now().Add(-s.cfg.LateRejection).UnixMicro()
	}
	now := time.Now().UnixMicro()
	due := false
	var err error
	for i := 0; i < len(recs) && err == nil; {
		j := i + 1
		for j < len(recs) && recs[j].Partition == recs[i].Partition {
			j++
		}
		err = s.appendRunLocked(recs[i:j], late, now, &due)
		i = j
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}

	if !due {
		rows, bytes := s.m.st.HeadStats(s.table)
		due = rows > 0 && bytes >= s.m.opts.HeadBytes
		if due && bytes >= 2*s.m.opts.HeadBytes {
			// The persister cannot keep up: persist here, which stops fetching meanwhile.
			if err := s.persist(ctx); err != nil {
				return err
			}
			return nil
		}
	}
	if due {
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
	return nil
}

// appendRunLocked decodes recs, records of one partition, into the partition's
// heads of the table and of its rejects, and sets *due when a persist is due.
// REQUIRES: s.mu is held.
func (s *Supervisor) appendRunLocked(recs []kafka.Record, late, now int64, due *bool) error {
	p := recs[0].Partition
	src := offsetKey(s.cfg.Kafka.Topic, p)
	cols, rej := s.cols, s.rej
	cols.Reset()
	rej.Reset()
	// A large run is decoded by two goroutines (decoding is most of the per-record
	// work); the second half's rows are then appended after the first's.
	first := recs
	var wg sync.WaitGroup
	if len(recs) >= parallelDecodeMin {
		half := len(recs) / 2
		first = recs[:half]
		s.cols2.Reset()
		s.rej2.Reset()
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.decode(s.dec2, recs[half:], s.cols2, s.rej2, late, now)
		}()
	}
	s.decode(s.dec, first, cols, rej, late, now)
	if len(first) < len(recs) {
		wg.Wait()
		cols.Append(s.cols2)
		rej.Append(s.rej2)
	}
	last := recs[len(recs)-1].Offset
	s.next[p] = last + 1
	if skip, ok := s.skipRej[p]; ok && rej.Len > 0 {
		dropRejectsBelow(rej, skip) // already in the rejects' lake
	}
	if skip, ok := s.skipRows[p]; ok && last+1 >= skip {
		delete(s.skipRows, p)
	}
	if skip, ok := s.skipRej[p]; ok && last+1 >= skip {
		delete(s.skipRej, p)
	}
	var err error
	rows := cols
	if s.spec != nil && cols.Len > 0 {
		rows = s.spec.Reduce(cols)
	}
	if rows.Len > 0 {
		err = s.m.st.AppendHeadSource(s.table, src, rows)
	}
	if err == nil && rej.Len > 0 {
		err = s.m.st.AppendHeadSource(s.rejects, src, rej)
	}
	if err != nil {
		return err
	}
	s.sinceFreeze += cols.Len + rej.Len
	*due = *due || s.sinceFreeze >= s.cfg.PersistRows
	if gran := s.def.Granularity.Microseconds(); gran > 0 && cols.Len > 0 {
		newest := slices.Max(cols.Cols[s.tc].Int64[:cols.Len])
		if c := newest - ((newest%gran)+gran)%gran; c > s.newestChunk {
			*due = *due || s.newestChunk != 0 // the previous chunk closed
			s.newestChunk = c
		}
	}
	s.count(recs, cols.Len, rej)
	return nil
}

// dropRejectsBelow removes from rej (RejectsSchema rows of one partition) the
// rejects of records below offset.
func dropRejectsBelow(rej *storage.Columns, offset int64) {
	offs := rej.Cols[rejectsOffsetCol].Int64
	k := 0
	for i := 0; i < rej.Len; i++ {
		if offs[i] < offset {
			continue
		}
		for _, c := range rej.Cols {
			if c.Int64 != nil {
				c.Int64[k] = c.Int64[i]
			} else {
				c.String[k] = c.String[i]
			}
		}
		k++
	}
	rej.Truncate(k)
}

// rejectsOffsetCol is the index of the offset column in RejectsSchema.
const rejectsOffsetCol = 3

// parallelDecodeMin is the batch size from which Records decodes in two goroutines.
const parallelDecodeMin = 1024

// skipRevokeCommit is false in every real build. A build with the tag
// strata_mutant_revokecommit sets it (mutant_revokecommit.go): a revoked
// partition's offsets are then never committed to the group, so its next owner
// re-reads rows this process published, for the two-process kill test to catch.
var skipRevokeCommit bool

// rejectsApart is nil in every real build. A build with the tag
// strata_mutant_rejectsapart sets it (mutant_rejectsapart.go): persist then
// publishes the rejects in a commit of their own before the rows and offsets, and
// calls it in between with the number of rejects, so that a crash there records
// the rejects again after the restart, for TestRejectsCatchMutantApart to catch.
var rejectsApart func(rejects int)

// mutateRecords is nil in every real build. A build with the tag
// strata_mutant_dropdup sets it (mutant_dropdup.go) to break the consumer on
// purpose, so that a test can show the exactly-once checks catch the break.
var mutateRecords func(recs []kafka.Record)

// decode decodes recs into cols (rejects into rej) with dec.
func (s *Supervisor) decode(dec *ingest.RecordDecoder, recs []kafka.Record, cols, rej *storage.Columns, late, now int64) {
	if mutateRecords != nil {
		mutateRecords(recs)
	}
	for i := range recs {
		r := &recs[i]
		if err := dec.Decode(r.Value, cols); err != nil {
			addReject(rej, now, s.cfg.Kafka.Topic, r, err.Error())
		} else if skip, ok := s.skipRows[r.Partition]; ok && r.Offset < skip {
			cols.Truncate(cols.Len - 1) // its row is in the lake already; only its reject was missing
		} else if late != 0 && cols.Cols[s.tc].Int64[cols.Len-1] < late {
			cols.Truncate(cols.Len - 1)
			addReject(rej, now, s.cfg.Kafka.Topic, r, "late event: time is before now() - late_message_rejection ("+s.cfg.LateRejection.String()+")")
		}
	}
}

// addReject appends a reject row (RejectsSchema) for r.
func addReject(c *storage.Columns, now int64, topic string, r *kafka.Record, reason string) {
	raw := r.Value
	suffix := ""
	if len(raw) > maxRawBytes {
		raw, suffix = raw[:maxRawBytes], "… ("+strconv.Itoa(len(r.Value))+" bytes)"
	}
	c.Cols[0].Int64 = append(c.Cols[0].Int64, now)
	c.Cols[1].String = append(c.Cols[1].String, topic)
	c.Cols[2].Int64 = append(c.Cols[2].Int64, int64(r.Partition))
	c.Cols[3].Int64 = append(c.Cols[3].Int64, r.Offset)
	c.Cols[4].String = append(c.Cols[4].String, rawText(raw)+suffix)
	c.Cols[5].String = append(c.Cols[5].String, reason)
	c.Len++
}

// rawText returns raw as text: as is when it is valid UTF-8 without NUL, else in
// PostgreSQL's bytea hex format (\x0a1b...).
func rawText(raw []byte) string {
	if utf8.Valid(raw) && !containsNUL(raw) {
		return string(raw)
	}
	const hex = "0123456789abcdef"
	out := make([]byte, 2, 2+2*len(raw))
	out[0], out[1] = '\\', 'x'
	for _, b := range raw {
		out = append(out, hex[b>>4], hex[b&15])
	}
	return string(out)
}

func containsNUL(b []byte) bool {
	for _, c := range b {
		if c == 0 {
			return true
		}
	}
	return false
}

// partStat is one partition's figures in strata_ingest_status.
type partStat struct {
	records, rejects int64 // records consumed; of those, rejected
	rate             float64
	lastRows         int64
}

// rows returns the rows the partition's records became.
func (p *partStat) rows() int64 { return p.records - p.rejects }

// count adds a decoded batch to the table's figures (rows rows, the rejects rej)
// and to each partition's (its records recs). Rows are counted before any
// rollup. A batch holds runs of one partition, so the map is looked up once per
// run, not per record.
func (s *Supervisor) count(recs []kafka.Record, rows int, rej *storage.Columns) {
	s.stat.Lock()
	defer s.stat.Unlock()
	s.stat.rows += int64(rows)
	s.stat.rejects += int64(rej.Len)
	if s.stat.part == nil {
		s.stat.part = map[int32]*partStat{}
	}
	var ps *partStat
	last := int32(-1)
	at := func(p int32) *partStat {
		if ps == nil || p != last {
			if ps = s.stat.part[p]; ps == nil {
				ps = &partStat{}
				s.stat.part[p] = ps
			}
			last = p
		}
		return ps
	}
	for i := range recs {
		at(recs[i].Partition).records++
	}
	if rej.Len > 0 {
		for _, p := range rej.Cols[rejectsPartitionCol].Int64[:rej.Len] {
			at(int32(p)).rejects++
		}
	}
}

// rejectsPartitionCol is the index of the partition column in RejectsSchema.
const rejectsPartitionCol = 2

func (s *Supervisor) sampleRate() {
	s.stat.Lock()
	defer s.stat.Unlock()
	now := time.Now()
	if !s.stat.lastAt.IsZero() {
		if dt := now.Sub(s.stat.lastAt).Seconds(); dt > 0 {
			inst := float64(s.stat.rows-s.stat.lastRows) / dt
			s.stat.rate = 0.5*s.stat.rate + 0.5*inst
			for _, ps := range s.stat.part {
				ps.rate = 0.5*ps.rate + 0.5*float64(ps.rows()-ps.lastRows)/dt
			}
		}
	}
	s.stat.lastRows, s.stat.lastAt = s.stat.rows, now
	for _, ps := range s.stat.part {
		ps.lastRows = ps.rows()
	}
}

// unassignedAfter is how long a partition this process does not own may show
// group lag with a committed offset standing still before it is reported.
func (s *Supervisor) unassignedAfter() time.Duration {
	if d := s.m.opts.UnassignedAfter; d > 0 {
		return d
	}
	return max(30*time.Second, 3*s.cfg.PersistEvery)
}

// unassignedNow returns the partitions of the topic that this process does not
// own and that nobody seems to read: group lag above zero with the committed
// offset standing still for unassignedAfter.
func (s *Supervisor) unassignedNow() []kafka.UnownedLag {
	s.mu.Lock()
	cons := s.cons
	s.mu.Unlock()
	if cons == nil {
		return nil
	}
	after := s.unassignedAfter()
	return slices.DeleteFunc(cons.GroupLag(), func(u kafka.UnownedLag) bool { return u.Stalled < after })
}

// checkUnassigned logs a warning when a partition becomes unassigned, and a
// notice when it is read again.
func (s *Supervisor) checkUnassigned() {
	now := s.unassignedNow()
	s.stat.Lock()
	defer s.stat.Unlock()
	if s.stat.unassigned == nil {
		s.stat.unassigned = map[int32]bool{}
	}
	seen := map[int32]bool{}
	for _, u := range now {
		seen[u.Partition] = true
		if !s.stat.unassigned[u.Partition] {
			s.stat.unassigned[u.Partition] = true
			s.m.log.Warn("partition of the topic read by nobody: not assigned to this process, and the consumer group's committed offset has not moved",
				"table", s.table, "topic", s.cfg.Kafka.Topic, "group", s.cfg.Kafka.Group, "partition", u.Partition,
				"group_committed", u.Committed, "lag", u.Lag, "stalled", u.Stalled.Round(time.Second))
		}
	}
	for p := range s.stat.unassigned {
		if !seen[p] {
			delete(s.stat.unassigned, p)
			s.m.log.Info("partition read again", "table", s.table, "topic", s.cfg.Kafka.Topic, "partition", p)
		}
	}
}

// status returns the supervisor's rows of strata_ingest_status.
func (s *Supervisor) status() []Status {
	s.stat.Lock()
	base := Status{Table: s.table, Topic: s.cfg.Kafka.Topic, Partition: -1, CommittedOffset: -1, ReadOffset: -1, Lag: -1, FollowLag: -1,
		LakeOffset: -1, LakeLag: -1,
		RowsPerSec: s.stat.rate, Rows: s.stat.rows, Rejects: s.stat.rejects,
		TableRowsPerSec: s.stat.rate, TableRows: s.stat.rows, TableRejects: s.stat.rejects,
		State: s.stat.state, TableState: s.stat.state, LastError: s.stat.lastErr,
		Persists: s.stat.persists, PersistSeconds: s.stat.persistSecs}
	part := make(map[int32]partStat, len(s.stat.part))
	for p, ps := range s.stat.part {
		part[p] = *ps
	}
	lost := maps.Clone(s.stat.lost)
	s.stat.Unlock()
	base.Node = s.m.nodeName()
	s.mu.Lock()
	cons, fo := s.cons, s.fol
	next := maps.Clone(s.next)
	s.mu.Unlock()
	if cons == nil {
		return []Status{base}
	}
	parts := cons.Assignment()
	unassigned := s.unassignedNow()
	var follows map[int32]kafka.FollowPosition
	var shed map[int32]int64
	if fo != nil {
		follows = fo.f.Positions()
		shed = fo.shedAt()
		for p := range shed {
			delete(follows, p)
		}
		for _, p := range parts {
			delete(follows, p) // owned since; no longer followed at the next sync
			delete(shed, p)
		}
	}
	if len(parts) == 0 && len(unassigned) == 0 && len(follows) == 0 && len(shed) == 0 {
		return []Status{base}
	}
	committed := s.m.st.Catalog().Offsets(s.table)
	lag := cons.Lag()
	out := make([]Status, 0, len(parts)+len(unassigned))
	for _, p := range parts {
		st := base
		st.Partition, st.Role = p, "owner"
		if o, ok := next[p]; ok {
			st.ReadOffset = o
		}
		ps := part[p]
		st.Rows, st.Rejects, st.RowsPerSec = ps.rows(), ps.rejects, ps.rate
		if o, ok := committed[offsetKey(st.Topic, p)]; ok {
			st.CommittedOffset = o
		}
		if l, ok := lag[p]; ok {
			st.Lag = l
		}
		st.LostRecords = lost[p]
		if src := s.m.st.Source(s.table, offsetKey(st.Topic, p)); src.HasLake && st.CommittedOffset >= 0 {
			st.LakeOffset, st.LakeLag = src.Lake, st.CommittedOffset-src.Lake
			if st.LakeLag > 0 {
				since := src.HandedAt
				if since.IsZero() {
					since = s.started
				}
				st.LakeLagSeconds = time.Since(since).Seconds()
			}
		}
		out = append(out, st)
	}
	unassignedAt := map[int32]kafka.UnownedLag{}
	for _, u := range unassigned {
		unassignedAt[u.Partition] = u
	}
	for _, p := range slices.Sorted(maps.Keys(follows)) {
		pos := follows[p]
		src := offsetKey(s.cfg.Kafka.Topic, p)
		st := base
		st.Partition, st.Role = p, "follower"
		st.ReadOffset = pos.Next
		if st.ReadOffset < 0 {
			st.ReadOffset = pos.Start
		}
		st.Lag, st.FollowLag = pos.Lag, pos.Lag
		st.Rows, st.Rejects = fo.counts(p)
		st.RowsPerSec = 0
		st.LostRecords = lost[p]
		if o, ok := s.m.st.SnapshotLakeOffset(s.table, src); ok {
			st.LakeOffset, st.LakeLag = o, max(st.ReadOffset-o, 0)
		}
		if u, ok := unassignedAt[p]; ok {
			// Followed here, owned by nobody: the group's figures, as for
			// any unassigned partition.
			st.State, st.CommittedOffset, st.Lag = "unassigned", u.Committed, u.Lag
			delete(unassignedAt, p)
		}
		out = append(out, st)
	}
	for _, p := range slices.Sorted(maps.Keys(shed)) {
		st := base
		st.Partition, st.Role, st.State = p, "follower", "memory-limit"
		st.ReadOffset = shed[p]
		st.Rows, st.Rejects = fo.counts(p)
		st.RowsPerSec = 0
		st.LostRecords = lost[p]
		if o, ok := s.m.st.SnapshotLakeOffset(s.table, offsetKey(s.cfg.Kafka.Topic, p)); ok {
			st.LakeOffset, st.LakeLag = o, max(st.ReadOffset-o, 0)
		}
		st.LastError = fmt.Sprintf("follower memory limit (%d bytes of follower heads per table) reached: the partition's rows not handed off yet were dropped from this node's memory and queries here show it as the lake holds it, until the lake reaches offset %d", s.m.opts.FollowBytes, shed[p])
		delete(unassignedAt, p)
		out = append(out, st)
	}
	for _, u := range unassigned {
		if _, left := unassignedAt[u.Partition]; !left {
			continue
		}
		st := base
		st.Partition, st.State, st.Node = u.Partition, "unassigned", ""
		st.LostRecords = lost[u.Partition]
		ps := part[u.Partition] // what this process read of it before it moved
		st.Rows, st.Rejects, st.RowsPerSec = ps.rows(), ps.rejects, ps.rate
		st.CommittedOffset, st.Lag = u.Committed, u.Lag
		out = append(out, st)
	}
	return out
}
