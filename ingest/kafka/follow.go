package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Follower reads chosen partitions of a topic straight from the brokers, as a
// direct consumer: no consumer group, no commits, nothing any other member
// sees. Package ingest/stream follows with it the partitions of a table that
// its process does not own, so that every process answers queries over every
// partition (storage/store's follower heads).
//
// Invariants:
//   - A partition is delivered only between Follow and Unfollow. Follow of a
//     partition already followed starts it again at the new offset.
//   - After Follow(p, start), the first record delivered of p is the first one
//     at or after start (start itself unless the log has a gap there, or start
//     lies below the log start, which retention moved past: then the log
//     start), and each following record is the next one in the log: offsets
//     strictly increase and nothing is delivered twice within one Follow.
//   - Follow and Unfollow take effect between two polls, in the order called;
//     records of a partition polled before are dropped, never delivered after
//     an Unfollow returns and the poll in flight ended (Run cancels it).
type Follower struct {
	cfg  Config
	h    FollowHandler
	opts []kgo.Opt
	log  *slog.Logger

	started atomic.Bool
	fatal   atomic.Pointer[error]

	mu struct {
		sync.Mutex
		// parts are the followed partitions, pending the ones not applied yet
		// (start or restart: the offset; stop: -1), in call order by partition.
		parts   map[int32]*followed
		pending map[int32]int64
		cancel  context.CancelFunc // cancels the poll in flight, if any
		cl      *kgo.Client
	}
}

// followed is the Follower's state of one partition. Guarded by Follower.mu.
type followed struct {
	start int64 // where this Follow began
	next  int64 // the next offset to deliver; -1 until the first record
	hwm   int64 // high watermark as last seen; -1 unknown
}

// FollowPosition is where the Follower is in one partition.
type FollowPosition struct {
	Start         int64 // where it started (Follow)
	Next          int64 // next offset to deliver; -1 before the first record
	HighWatermark int64 // -1: unknown
	// Lag is HighWatermark minus Next (minus Start before the first record),
	// never negative; -1 when the high watermark is unknown.
	Lag int64
}

// FollowHandler receives what a Follower reads. Its methods are called from
// Run's goroutine only, never concurrently.
type FollowHandler interface {
	// Reset: the partitions start again (Follow) or stop (Unfollow); what
	// was delivered of them before is to be forgotten. Called before any
	// record of the new Follow is delivered.
	Reset(partitions []int32)
	// Records: a batch of records of followed partitions, in offset order per
	// partition. The slice is reused after Records returns (its Keys and
	// Values are not). An error ends Run with it.
	Records(ctx context.Context, recs []Record) error
}

// NewFollower returns a Follower of cfg.Topic on cfg.Brokers (with cfg's
// SASL, TLS, FetchMaxWait, LagRefresh and Logger; the group settings are not
// used) that hands what it reads to h.
func NewFollower(cfg Config, h FollowHandler) (*Follower, error) {
	if h == nil {
		return nil, errors.New("kafka: nil follower handler")
	}
	if len(cfg.Brokers) == 0 {
		return nil, errors.New("kafka: no brokers")
	}
	if cfg.Topic == "" {
		return nil, errors.New("kafka: no topic")
	}
	if cfg.ClientID == "" {
		cfg.ClientID = "strata-follower"
	}
	if cfg.FetchMaxWait <= 0 {
		cfg.FetchMaxWait = 50 * time.Millisecond
	}
	if cfg.LagRefresh <= 0 {
		cfg.LagRefresh = time.Second
	}
	f := &Follower{cfg: cfg, h: h, log: cfg.Logger}
	if f.log == nil {
		f.log = slog.New(slog.DiscardHandler)
	}
	f.log = f.log.With("topic", cfg.Topic, "follower", true)
	mech, err := saslMechanism(cfg.SASL)
	if err != nil {
		return nil, fmt.Errorf("kafka: topic %s: %w", cfg.Topic, err)
	}
	f.opts = []kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ClientID(cfg.ClientID),
		// A direct consumer of nothing yet: partitions come and go with
		// AddConsumePartitions and RemoveConsumePartitions.
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{cfg.Topic: {}}),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(cfg.FetchMaxWait),
		kgo.WithLogger(kgoLogger{f.log}),
	}
	if mech != nil {
		f.opts = append(f.opts, kgo.SASL(mech))
	}
	if cfg.TLS != nil {
		f.opts = append(f.opts, kgo.DialTLSConfig(cfg.TLS.Clone()))
	}
	f.mu.parts = map[int32]*followed{}
	f.mu.pending = map[int32]int64{}
	return f, nil
}

// Follow starts following partitions at the given offsets (a partition
// followed already starts again there).
func (f *Follower) Follow(starts map[int32]int64) {
	if len(starts) == 0 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for p, o := range starts {
		f.mu.pending[p] = max(o, 0)
	}
	if f.mu.cancel != nil {
		f.mu.cancel()
	}
}

// Unfollow stops following partitions.
func (f *Follower) Unfollow(partitions []int32) {
	if len(partitions) == 0 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, p := range partitions {
		f.mu.pending[p] = -1
	}
	if f.mu.cancel != nil {
		f.mu.cancel()
	}
}

// Followed returns the partitions followed (pending changes included), sorted.
func (f *Follower) Followed() []int32 {
	f.mu.Lock()
	defer f.mu.Unlock()
	set := map[int32]bool{}
	for p := range f.mu.parts {
		set[p] = true
	}
	for p, o := range f.mu.pending {
		set[p] = o >= 0
	}
	var out []int32
	for p, on := range set {
		if on {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

// Positions returns where the Follower is in each partition it follows (not
// those pending).
func (f *Follower) Positions() map[int32]FollowPosition {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[int32]FollowPosition, len(f.mu.parts))
	for p, st := range f.mu.parts {
		pos := FollowPosition{Start: st.start, Next: st.next, HighWatermark: st.hwm, Lag: -1}
		if st.hwm >= 0 {
			from := st.next
			if from < 0 {
				from = st.start
			}
			pos.Lag = max(st.hwm-from, 0)
		}
		out[p] = pos
	}
	return out
}

// Partitions returns the partitions of the topic, sorted (a metadata request
// through the Follower's client; an error before Run has started it).
func (f *Follower) Partitions(ctx context.Context) ([]int32, error) {
	f.mu.Lock()
	cl := f.mu.cl
	f.mu.Unlock()
	if cl == nil {
		return nil, fmt.Errorf("kafka: topic %s: follower not running", f.cfg.Topic)
	}
	return topicPartitions(ctx, cl, f.cfg.Topic)
}

func (f *Follower) fail(err error) {
	f.fatal.CompareAndSwap(nil, &err)
	f.mu.Lock()
	if f.mu.cancel != nil {
		f.mu.cancel()
	}
	f.mu.Unlock()
}

// Run follows until ctx ends (nil) or the handler fails (its error).
func (f *Follower) Run(ctx context.Context) error {
	if !f.started.CompareAndSwap(false, true) {
		return fmt.Errorf("kafka: topic %s: follower Run called twice", f.cfg.Topic)
	}
	cl, err := kgo.NewClient(append(f.opts, kgo.WithHooks(followAuthHook{f}))...)
	if err != nil {
		return fmt.Errorf("kafka: topic %s: %w", f.cfg.Topic, err)
	}
	defer cl.Close()
	f.mu.Lock()
	f.mu.cl = cl
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.mu.cl = nil
		f.mu.Unlock()
	}()
	lagCtx, stopLag := context.WithCancel(ctx)
	defer stopLag()
	go f.refreshLag(lagCtx, cl)

	var batch []Record
	for {
		if e := f.fatal.Load(); e != nil {
			return *e
		}
		if ctx.Err() != nil {
			return nil
		}
		pctx, cancel := context.WithCancel(ctx)
		f.mu.Lock()
		reset := f.applyLocked(cl)
		f.mu.cancel = cancel
		f.mu.Unlock()
		if len(reset) > 0 {
			f.h.Reset(reset)
		}
		fetches := cl.PollFetches(pctx)
		f.mu.Lock()
		f.mu.cancel = nil
		f.mu.Unlock()
		cancel()
		fetches.EachError(func(topic string, p int32, err error) {
			switch {
			case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded), errors.Is(err, kgo.ErrClientClosed):
			case isAuthErr(err):
				f.fail(fmt.Errorf("kafka: topic %s (follower): %w", f.cfg.Topic, err))
			default:
				f.log.Warn("fetch error", "fetch_topic", topic, "partition", p, "err", err)
			}
		})
		batch = f.collect(fetches, batch[:0])
		if len(batch) > 0 {
			err := f.h.Records(ctx, batch)
			clear(batch)
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("kafka: topic %s: follower records: %w", f.cfg.Topic, err)
			}
		}
	}
}

// applyLocked hands the pending Follow and Unfollow calls to the client and
// returns their partitions, sorted. Called between polls only, so no record of
// a partition's earlier Follow is buffered past it (franz-go drops buffered
// fetches of removed partitions). REQUIRES: f.mu is held.
func (f *Follower) applyLocked(cl *kgo.Client) []int32 {
	if len(f.mu.pending) == 0 {
		return nil
	}
	reset := slices.Sorted(maps.Keys(f.mu.pending))
	var remove []int32
	add := map[int32]kgo.Offset{}
	for p, o := range f.mu.pending {
		if _, had := f.mu.parts[p]; had {
			remove = append(remove, p)
			delete(f.mu.parts, p)
		}
		if o >= 0 {
			add[p] = kgo.NewOffset().At(o)
			f.mu.parts[p] = &followed{start: o, next: -1, hwm: -1}
		}
	}
	clear(f.mu.pending)
	if len(remove) > 0 {
		cl.RemoveConsumePartitions(map[string][]int32{f.cfg.Topic: remove})
	}
	if len(add) > 0 {
		cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{f.cfg.Topic: add})
	}
	f.log.Debug("following", "partitions", slices.Sorted(maps.Keys(f.mu.parts)))
	return reset
}

// collect appends the records of followed partitions in fetches to batch,
// dropping any below a partition's start or next offset, and advances the
// positions.
func (f *Follower) collect(fetches kgo.Fetches, batch []Record) []Record {
	f.mu.Lock()
	defer f.mu.Unlock()
	fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
		st := f.mu.parts[fp.Partition]
		if fp.Topic != f.cfg.Topic || st == nil {
			return
		}
		if _, pending := f.mu.pending[fp.Partition]; pending {
			return // restarted or stopped since the poll: these belong to the old Follow
		}
		if fp.Err == nil && fp.HighWatermark > st.hwm {
			st.hwm = fp.HighWatermark
		}
		for _, r := range fp.Records {
			if r.Offset < st.start || r.Offset < st.next {
				continue
			}
			batch = append(batch, Record{Partition: r.Partition, Offset: r.Offset, Key: r.Key, Value: r.Value, Timestamp: r.Timestamp})
			st.next = r.Offset + 1
		}
	})
	return batch
}

// refreshLag re-reads the high watermarks of the followed partitions every
// LagRefresh (fetches update them too, but only when records come).
func (f *Follower) refreshLag(ctx context.Context, cl *kgo.Client) {
	t := time.NewTicker(f.cfg.LagRefresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		f.mu.Lock()
		ps := slices.Sorted(maps.Keys(f.mu.parts))
		f.mu.Unlock()
		if len(ps) == 0 {
			continue
		}
		hwm := highWatermarks(ctx, cl, f.cfg.Topic, ps, f.log)
		f.mu.Lock()
		for p, off := range hwm {
			if st := f.mu.parts[p]; st != nil {
				st.hwm = max(st.hwm, off)
			}
		}
		f.mu.Unlock()
	}
}

// followAuthHook makes an authentication failure fatal, as authHook does for
// a Consumer.
type followAuthHook struct{ f *Follower }

func (h followAuthHook) OnBrokerConnect(_ kgo.BrokerMetadata, _ time.Duration, _ net.Conn, err error) {
	if err != nil && isAuthErr(err) {
		h.f.fail(fmt.Errorf("kafka: topic %s (follower): connecting: %w", h.f.cfg.Topic, err))
	}
}
