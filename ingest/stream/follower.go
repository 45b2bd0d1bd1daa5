package stream

import (
	"context"
	"errors"
	"maps"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/stratadb/strata/ingest"
	"github.com/stratadb/strata/ingest/kafka"
	"github.com/stratadb/strata/storage"
	"github.com/stratadb/strata/storage/store"
)

// Following. For a table whose lake is the checkpoint of its partitions, every
// process reads the partitions it does not own straight from Kafka
// (kafka.Follower: no group membership) into follower heads, memory only
// (store.AppendFollow), decoded by the same rules as the owner's: rows into
// the table's follower head of the partition, rejects into that of
// <table>_rejects, each with its record offset. A partition is followed from the lower of the two lakes'
// txn offsets for it (the log start when a lake has none), read when the
// follower takes it up, or from the offsets of the lake versions queries read
// when those are lower; queries read a followed partition's rows at or past
// the lake's offset of the version they read (store, follower.go), so the rows
// the owner hands off leave the follower head as its handoff enters the lake,
// in one step. A partition this process comes to own is no longer followed
// (its owner path resumes from the lake); one it loses is followed again from
// the lake's offset. A rollup table's follower keeps each record's row apart:
// the record rolled up alone (rollup.Spec.Lift) with its offset, since a row
// merging several records would have no one offset to cut at; queries
// aggregate those rows exactly as the owner's rolled-up ones, and a
// non-aggregating SELECT shows a row per record of a followed partition until
// the owner's handoff brings its rolled-up rows.
//
// The memory limit. Follower heads hold what the owners have not handed off
// yet, and cannot be persisted: past Options.FollowBytes (the table's and its
// rejects' follower heads together), the follower first trims rows the lake
// holds, then lets go of the partition whose heads hold the most, and of the
// next, until under the limit: it stops reading it, drops its heads, and
// queries read that partition as the lake holds it (rows missing for a while,
// never a row twice), state 'memory-limit' in strata_ingest_status with an
// error in the log. It follows the partition again, from the lake's offset,
// once the lake's offset for it has reached the offset it had read to when it
// let go: the owner's handoffs have taken over what was dropped.

// followSync is how often the follower compares the topic's partitions with
// those owned (ownership changes also wake it at once).
const followSync = 250 * time.Millisecond

// follower follows one run's unowned partitions of its table. It implements
// kafka.FollowHandler; Records and Reset run on the kafka.Follower's goroutine.
type follower struct {
	s    *Supervisor
	f    *kafka.Follower
	kick chan struct{}

	// Decoding state, used by Records only. cols holds what records decode
	// into (a rollup table's logical schema); lifted, for a rollup table, the
	// rows stored (one per record: rollup.Spec.Lift).
	dec               *ingest.RecordDecoder
	cols, rej, lifted *storage.Columns
	offs              []int64

	// lastShedCheck is when sync last read the lake's offsets of the
	// partitions let go at the memory limit (sync's goroutine only).
	lastShedCheck time.Time

	mu sync.Mutex
	// rows and rejects count what was followed of each partition since the
	// run started. Guarded by mu.
	rows, rejects map[int32]int64
	// shed holds the partitions let go at the memory limit, each with the
	// offset read to when it was let go (see the top of this file). Guarded
	// by mu.
	shed map[int32]int64
}

// shedCheckEvery is how often the lake's offsets of the partitions let go at
// the memory limit are read, to follow them again.
const shedCheckEvery = time.Second

// newFollower returns the follower of s's run: records decode into schema
// (a rollup table's logical schema), rejects into rejects.
func (s *Supervisor) newFollower(schema *storage.Schema, rejects *storage.Schema) (*follower, error) {
	dec, err := ingest.NewRecordDecoder(schema, ingest.RecordOptions{KeepUnknown: s.cfg.KeepUnknown, MaxRecordBytes: s.cfg.MaxRecordBytes})
	if err != nil {
		return nil, err
	}
	fo := &follower{s: s, kick: make(chan struct{}, 1), dec: dec,
		cols: storage.NewColumns(schema, 1024), rej: storage.NewColumns(rejects, 16),
		rows: map[int32]int64{}, rejects: map[int32]int64{}, shed: map[int32]int64{}}
	if s.spec != nil {
		fo.lifted = storage.NewColumns(s.spec.Physical, 1024)
	}
	cfg := s.cfg.Kafka
	cfg.Logger = s.m.log
	if fo.f, err = kafka.NewFollower(cfg, fo); err != nil {
		return nil, err
	}
	return fo, nil
}

// wake asks for a comparison of partitions with ownership now.
func (fo *follower) wake() {
	if fo == nil {
		return
	}
	select {
	case fo.kick <- struct{}{}:
	default:
	}
}

// run follows until ctx ends. A failed kafka.Follower is logged; the run's
// follower then stays stopped (its heads forgotten), and ownership goes on.
func (fo *follower) run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(followSync)
		defer t.Stop()
		for {
			fo.sync(ctx)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			case <-fo.kick:
			}
		}
	}()
	if err := fo.f.Run(ctx); err != nil && ctx.Err() == nil {
		fo.s.m.log.Error("following the partitions other processes own failed; this process shows them as its lake holds them", "table", fo.s.table, "err", err)
		fo.Reset(fo.f.Followed())
	}
	wg.Wait()
}

// sync follows every partition of the topic not owned, from the lakes' offset,
// and stops following those now owned; first it trims the follower heads of
// rows the lakes hold now.
func (fo *follower) sync(ctx context.Context) {
	s := fo.s
	s.m.st.TrimFollowers(s.table)
	s.m.st.TrimFollowers(s.rejects)
	all, err := fo.f.Partitions(ctx)
	if err != nil {
		return // not running yet, or the brokers are away: next time
	}
	s.mu.Lock()
	owned := maps.Clone(s.owned)
	s.mu.Unlock()
	followed := fo.f.Followed()
	var stop, start, shed []int32
	for _, p := range followed {
		if _, in := slices.BinarySearch(all, p); owned[p] || !in {
			stop = append(stop, p)
		}
	}
	fo.mu.Lock()
	for _, p := range all {
		if _, is := slices.BinarySearch(followed, p); !owned[p] && !is {
			if _, was := fo.shed[p]; was {
				shed = append(shed, p)
			} else {
				start = append(start, p)
			}
		}
	}
	for p := range fo.shed {
		if owned[p] {
			delete(fo.shed, p) // its owner path reads it now
		}
	}
	fo.mu.Unlock()
	fo.f.Unfollow(stop)
	start = append(start, fo.shedDone(ctx, shed)...)
	if len(start) == 0 {
		return
	}
	srcs := make([]string, len(start))
	for i, p := range start {
		srcs[i] = offsetKey(s.cfg.Kafka.Topic, p)
	}
	lr, err := s.m.st.LakeOffsets(ctx, s.table, srcs)
	if err == nil {
		var lj map[string]int64
		if lj, err = s.m.st.LakeOffsets(ctx, s.rejects, srcs); err == nil {
			starts := make(map[int32]int64, len(start))
			for i, p := range start {
				r, hasR := lr[srcs[i]]
				j, hasJ := lj[srcs[i]]
				starts[p] = 0
				if hasR && hasJ {
					starts[p] = min(r, j)
				}
				// The lake version queries read now may be older than the log
				// just read: from its offsets, so that the rows between are in
				// neither for no longer than it takes to read them.
				for _, t := range []string{s.table, s.rejects} {
					if o, ok := s.m.st.SnapshotLakeOffset(t, srcs[i]); ok && o < starts[p] {
						starts[p] = o
					}
				}
			}
			fo.f.Follow(starts)
			s.m.log.Info("following partitions owned elsewhere", "table", s.table, "from", starts)
			return
		}
	}
	if ctx.Err() == nil {
		s.m.log.Warn("reading the lake's offsets to follow partitions; tried again shortly", "table", s.table, "err", err)
	}
}

// shedDone returns the partitions of shed (let go at the memory limit) whose
// lake offset has reached the offset read to when they were let go, and takes
// them off the shed list: they are followed again from the lake's offset. It
// reads the lake at most every shedCheckEvery.
func (fo *follower) shedDone(ctx context.Context, shed []int32) []int32 {
	if len(shed) == 0 || time.Since(fo.lastShedCheck) < shedCheckEvery {
		return nil
	}
	fo.lastShedCheck = time.Now()
	s := fo.s
	srcs := make([]string, len(shed))
	for i, p := range shed {
		srcs[i] = offsetKey(s.cfg.Kafka.Topic, p)
	}
	lr, err := s.m.st.LakeOffsets(ctx, s.table, srcs)
	if err != nil {
		return nil // next time
	}
	var done []int32
	fo.mu.Lock()
	defer fo.mu.Unlock()
	for i, p := range shed {
		at, was := fo.shed[p]
		if o, ok := lr[srcs[i]]; was && ok && o >= at {
			delete(fo.shed, p)
			done = append(done, p)
			s.m.log.Info("the lake holds what the follower let go at its memory limit: following the partition again", "table", s.table, "partition", p, "lake_offset", o)
		}
	}
	return done
}

// bound keeps the table's follower heads within Options.FollowBytes (see the
// top of this file). Run on the kafka.Follower's goroutine, after a batch.
func (fo *follower) bound() {
	s := fo.s
	limit := s.m.opts.FollowBytes
	held := func() int64 {
		_, a := s.m.st.FollowStats(s.table)
		_, b := s.m.st.FollowStats(s.rejects)
		return a + b
	}
	if held() <= limit {
		return
	}
	s.m.st.TrimFollowers(s.table)
	s.m.st.TrimFollowers(s.rejects)
	for n := held(); n > limit; n = held() {
		rows, rej := s.m.st.Following(s.table), s.m.st.Following(s.rejects)
		pos := fo.f.Positions()
		shed := fo.shedAt()
		var p int32 = -1
		var most int64 = -1
		for q := range pos {
			if _, was := shed[q]; was {
				continue // let go of already; Positions drops it at the next poll
			}
			src := offsetKey(s.cfg.Kafka.Topic, q)
			if b := rows[src].Bytes + rej[src].Bytes; b > most {
				p, most = q, b
			}
		}
		if p < 0 || most <= 0 {
			return // nothing followed left whose letting go would free memory
		}
		at := pos[p].Next
		if at < 0 {
			at = pos[p].Start
		}
		// On the shed list before Unfollow, so that sync, which starts every
		// partition neither followed nor owned nor shed, never sees it as none.
		fo.mu.Lock()
		fo.shed[p] = at
		fo.mu.Unlock()
		fo.f.Unfollow([]int32{p})
		src := offsetKey(s.cfg.Kafka.Topic, p)
		s.m.st.StopFollow(s.table, src)
		s.m.st.StopFollow(s.rejects, src)
		s.m.log.Error("FOLLOWER MEMORY LIMIT: the partition's rows not handed off yet are dropped from this node's memory; "+
			"queries here show the partition as the lake holds it until the lake reaches the offset read to, then it is followed again",
			"table", s.table, "partition", p, "held_bytes", n, "partition_bytes", most, "limit_bytes", limit, "read_to", at)
	}
}

// shedAt returns the partitions let go at the memory limit, each with the
// offset read to when let go.
func (fo *follower) shedAt() map[int32]int64 {
	fo.mu.Lock()
	defer fo.mu.Unlock()
	return maps.Clone(fo.shed)
}

// Reset forgets the follower heads of partitions that start again or stop.
func (fo *follower) Reset(partitions []int32) {
	s := fo.s
	for _, p := range partitions {
		src := offsetKey(s.cfg.Kafka.Topic, p)
		s.m.st.StopFollow(s.table, src)
		s.m.st.StopFollow(s.rejects, src)
	}
}

// Records decodes followed records into the follower heads of their
// partitions, rows and rejects each with their record offsets.
func (fo *follower) Records(ctx context.Context, recs []kafka.Record) error {
	s := fo.s
	// A paused table (ALTER TABLE … PAUSE INGEST) follows nothing either: its
	// rows stay where they are on every node until it resumes.
	for s.paused.Load() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	var late int64
	if s.cfg.LateRejection > 0 {
		late = time.Now().Add(-s.cfg.LateRejection).UnixMicro()
	}
	now := time.Now().UnixMicro()
	for i := 0; i < len(recs); {
		j := i + 1
		for j < len(recs) && recs[j].Partition == recs[i].Partition {
			j++
		}
		if err := fo.appendRun(recs[i:j], late, now); err != nil {
			return err
		}
		i = j
	}
	fo.bound()
	return nil
}

// appendRun decodes recs, records of one partition, into its follower heads.
func (fo *follower) appendRun(recs []kafka.Record, late, now int64) error {
	s := fo.s
	p := recs[0].Partition
	src := offsetKey(s.cfg.Kafka.Topic, p)
	cols, rej := fo.cols, fo.rej
	cols.Reset()
	rej.Reset()
	offs := fo.offs[:0]
	tc := s.tc
	// Rows (rejects) of records below the offset of the lake version queries
	// read are in that version, and no later snapshot reads them from the
	// follower head (the version only moves on): they are not kept. A
	// partition is followed from the lower of the two lakes' offsets, and
	// again from there after a restart of its Follow.
	fromRows, fromRej := int64(math.MinInt64), int64(math.MinInt64)
	if o, ok := s.m.st.SnapshotLakeOffset(s.table, src); ok {
		fromRows = o
	}
	if o, ok := s.m.st.SnapshotLakeOffset(s.rejects, src); ok {
		fromRej = o
	}
	reject := func(r *kafka.Record, reason string) {
		if r.Offset >= fromRej {
			addReject(rej, now, s.cfg.Kafka.Topic, r, reason)
		}
	}
	for i := range recs {
		r := &recs[i]
		if r.Offset < fromRows && r.Offset < fromRej {
			continue
		}
		if err := fo.dec.Decode(r.Value, cols); err != nil {
			reject(r, err.Error())
		} else if late != 0 && cols.Cols[tc].Int64[cols.Len-1] < late {
			cols.Truncate(cols.Len - 1)
			reject(r, "late event: time is before now() - late_message_rejection ("+s.cfg.LateRejection.String()+")")
		} else if r.Offset < fromRows {
			cols.Truncate(cols.Len - 1)
		} else {
			offs = append(offs, r.Offset)
		}
	}
	fo.offs = offs
	var err error
	rows := cols
	if s.spec != nil {
		rows = fo.lifted
		rows.Reset()
		s.spec.Lift(rows, cols)
	}
	if rows.Len > 0 {
		err = s.m.st.AppendFollow(s.table, src, rows, offs)
	}
	if err == nil && rej.Len > 0 {
		err = s.m.st.AppendFollow(s.rejects, src, rej, rej.Cols[rejectsOffsetCol].Int64[:rej.Len])
	}
	if err != nil && !errors.Is(err, store.ErrNoTable) {
		return err
	}
	fo.mu.Lock()
	fo.rows[p] += int64(cols.Len)
	fo.rejects[p] += int64(rej.Len)
	fo.mu.Unlock()
	return nil
}

// counts returns the rows and rejects followed of partition p.
func (fo *follower) counts(p int32) (rows, rejects int64) {
	fo.mu.Lock()
	defer fo.mu.Unlock()
	return fo.rows[p], fo.rejects[p]
}
