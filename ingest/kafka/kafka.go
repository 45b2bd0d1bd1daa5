// Package kafka is the Kafka source of strata's exactly-once ingestion: one
// consumer-group member (franz-go, classic group protocol, cooperative-sticky
// balancing) per table per process, handing batches of records to an owner —
// the per-table supervisor — through the Handler interface; and, for tables
// whose lake is the checkpoint every process shares, one Follower per table per
// process (follow.go), which reads the partitions the process does not own
// directly, without joining the group, so that every process answers queries
// over every partition.
//
// Kafka is not the source of truth for positions (DESIGN.md, invariant 1). The
// owner stores the next offset of every partition in its own catalog, in the
// same atomic batch as the rows read below it, and this package resumes from
// there. Group commits are only a hint for another process that takes a
// partition over: after the owner has published offsets durably it calls
// CommitHint, and a new owner resumes at max(its catalog offset, the group's
// committed offset). With Config.StoredIsExact (a table whose shared lake is the
// checkpoint of its partitions, package ingest/stream) the owner's offset is the
// resume offset whatever the group committed, and one below the log start is
// reported as data loss (DataLossHandler).
//
// Invariants:
//   - A partition is delivered to the Handler only between its Assigned and its
//     Revoked (or Lost) call; those calls and Records never run concurrently
//     (franz-go's BlockRebalanceOnPoll gates rebalance callbacks with polls).
//   - In one assignment, the first record delivered of a partition is the first
//     one at or after its resume offset (exactly the resume offset unless the
//     log has a gap there: compaction, transaction markers, retention), and every
//     following record is the next one in the log: offsets strictly increase,
//     nothing is delivered twice and nothing is skipped.
//   - The resume offset is max(stored, committed) when either exists (stored
//     alone, raised to the log start, with StoredIsExact), else the
//     log start (or end with Config.StartAtEnd), resolved to an exact offset
//     before fetching begins. When the stored offset is above the group's
//     commit, the resume offset is committed to the group before fetching
//     begins too (a failure is logged), and CommitHint never commits below
//     a partition's resume offset: the group's offset never lags behind, nor
//     moves back below, what the current owner resumed at.
//   - When Revoked returns, no further record of those partitions is delivered
//     until they are Assigned again.
//   - Run returns only after the final Revoked (for everything still owned) has
//     returned and the group has been left, or the leave gave up after
//     Config.LeaveTimeout (then the broker drops the member at its session
//     timeout, or its restart replaces it).
//
// Group membership: with Config.InstanceID the member is static (KIP-345), so
// a restarted process replaces its dead incarnation at once. That also matters
// for the embedded broker: kfake can keep a member whose process died during a
// JoinGroup in the group forever, holding partitions nobody reads (see
// kfake_test.go); a new incarnation with the same instance id evicts it. GroupLag
// reports the partitions this member does not own with the group's committed
// offsets, so the owner can notice partitions that nobody reads.
//
// Mechanics (franz-go): for every partition a group session adds, franz-go
// calls OnPartitionsAssigned (→ Handler.Assigned, the catalog offsets are
// kept), fetches the group's commits, and calls AdjustFetchOffsetsFn, where the
// commit is replaced by the exact resume offset; only then does it fetch.
// BlockRebalanceOnPoll makes OnPartitionsRevoked/Lost (→ Handler.Revoked/Lost)
// wait until the batch being delivered has been handed over and Run has called
// AllowRebalance, and franz-go drops the buffered records of a revoked
// partition before calling it; the consumer also drops anything of a partition
// it does not own or below a partition's next offset. Partitions are never
// re-positioned inside one ownership: a re-fetch of offsets keeps the position.
//
// Limits: a resume offset beyond the log end (the topic was deleted and
// re-created, or the broker lost acknowledged data) cannot be honoured
// exactly: franz-go resets the partition and records below the resume offset
// are dropped as already seen. Records below the log start were deleted by
// retention and are gone; consumption resumes at the log start.
package kafka

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// SASL is the SASL authentication of the connection to the brokers.
type SASL struct {
	Mechanism string // "" (none) | "PLAIN" | "SCRAM-SHA-256" | "SCRAM-SHA-512"
	User      string
	Password  string
}

// Config configures a Consumer.
type Config struct {
	Brokers  []string
	Topic    string
	Group    string // consumer group; one member per table per process
	ClientID string // default "strata"
	SASL     SASL
	TLS      *tls.Config // nil = plaintext

	// FetchMaxWait is how long the broker may hold a fetch waiting for data;
	// small for freshness. Default 50ms.
	FetchMaxWait time.Duration
	// StartAtEnd: a partition with neither a stored offset nor a group commit
	// starts at the log end. Default: the log start.
	StartAtEnd bool
	// StoredIsExact: the offsets Handler.Assigned returns are the resume
	// offsets, whatever the group committed, and a partition without one
	// starts at the log start/end (StartAtEnd). Package ingest/stream sets it
	// for tables whose lake is the checkpoint every process shares (handoff by
	// offset): the group's commits are then only hints for monitoring, since
	// rows a dead process consumed past the lake's offset may be gone with its
	// disk. A resume offset below the log start is data loss: Kafka's retention
	// deleted records nobody handed off (DataLoss, Lost, the log).
	StoredIsExact bool

	// Group timing; zero values keep franz-go's defaults (45s session, 3s
	// heartbeat, 60s rebalance). Tests lower them to rebalance quickly.
	SessionTimeout    time.Duration
	HeartbeatInterval time.Duration
	RebalanceTimeout  time.Duration

	// InstanceID, when set, makes this a static member of the group
	// (group.instance.id, KIP-345): a new incarnation joining with the same
	// id takes the old one's place and assignment at once, without waiting
	// for the old session to time out and without a rebalance. It must be
	// unique among the group's live members and stable across restarts
	// (package ingest/stream keeps one per data directory and table). Run
	// leaves the group explicitly at shutdown, so a stopped member's
	// partitions move at once; a killed one is replaced by its restart.
	InstanceID string
	// LeaveTimeout bounds leaving the group at the end of Run: waiting for a
	// join or sync in flight, the final Revoked, the LeaveGroup request.
	// Default 2s. A member that fails to leave is removed at its session
	// timeout, or replaced by its restart when InstanceID is set.
	LeaveTimeout time.Duration

	// LagRefresh is how often the high watermarks behind Lag, and the group
	// offsets behind GroupLag, are re-read from the brokers (fetches update
	// the high watermarks of owned partitions too). Default 1s.
	LagRefresh time.Duration
	// Logger receives the consumer's and franz-go's messages (franz-go at Warn
	// and above). Nil discards them.
	Logger *slog.Logger
}

// Record is one Kafka record. Key and Value are not reused by the consumer:
// the Handler may keep them.
type Record struct {
	Partition int32
	Offset    int64
	Key       []byte
	Value     []byte
	Timestamp time.Time
}

// Handler is the owner of the consumed partitions: the per-table supervisor.
// Its methods are never called concurrently with each other.
type Handler interface {
	// Assigned: partitions newly assigned to this member. Returns the next
	// offset to read per partition from the owner's catalog (absent = none
	// stored). The consumer resumes at max(stored, group-committed hint), or
	// the log start/end per StartAtEnd. An error stops Run and is returned
	// from it; the partitions are not consumed.
	Assigned(ctx context.Context, partitions []int32) (map[int32]int64, error)
	// Revoked: partitions being taken away (rebalance or shutdown). When it
	// returns, the owner has either durably published the rows it holds of
	// them or forgotten them; no more records of them are delivered. ctx is
	// not cancelled by Run's context ending: the final Revoked at shutdown
	// runs after it. Before returning, the owner should CommitHint the
	// catalog offsets of all the revoked partitions (not only those it just
	// published): a hint that failed earlier — e.g. with the cancelled ctx of
	// Records at shutdown — would otherwise make the next owner in another
	// process re-read rows already published.
	Revoked(ctx context.Context, partitions []int32)
	// Records: a batch of fetched records of currently assigned partitions,
	// in offset order per partition. The slice is reused after Records
	// returns (its Keys and Values are not). An error stops Run and is
	// returned from it. Rebalances wait while Records runs, so it must
	// return well within Config.RebalanceTimeout.
	Records(ctx context.Context, recs []Record) error
}

// LostHandler may be implemented by a Handler to learn that partitions were
// lost rather than revoked: the member fell out of the group (session timeout,
// fenced), so another member may already be consuming them from the last
// hint. The owner should forget, not publish, the rows it holds of them; a
// CommitHint would fail anyway. Without it, Revoked is called instead.
type LostHandler interface {
	Lost(ctx context.Context, partitions []int32)
}

// DataLossHandler may be implemented by a Handler to learn that a partition's
// resume offset lay below the log start (StoredIsExact): records from resume to
// start were deleted by the topic's retention before they were persisted
// anywhere. Consumption continues at start. Called from the group session,
// never concurrently with the other Handler methods' effects on the partition.
type DataLossHandler interface {
	DataLoss(partition int32, resume, start int64)
}

// Consumer is one group member consuming one topic for one Handler. Run it
// once.
type Consumer struct {
	cfg  Config
	h    Handler
	opts []kgo.Opt
	log  *slog.Logger

	started atomic.Bool
	paused  atomic.Bool
	resume  chan struct{} // a token when Resume is called; capacity 1

	testAfterPoll     func(kgo.Fetches) // tests only: runs right after each poll
	testAdjustListErr error             // tests only: adjustOffsets' listings fail with it

	mu struct {
		sync.Mutex
		cl         *kgo.Client // set while Run runs
		parts      map[int32]*partition
		fatal      error
		cancelPoll context.CancelFunc // cancels the poll in flight, if any
		hctx       context.Context    // context for Assigned/Revoked/Lost
		// others: the group's view of the topic's partitions this member
		// does not own, as of the last refresh (refreshGroupLag).
		others map[int32]*otherPartition
	}
}

// partition is the consumer's state of one owned partition.
// REQUIRES: Consumer.mu is held for every access.
type partition struct {
	stored    int64 // from Assigned; valid if hasStored
	hasStored bool
	// positioned: adjustOffsets set the fetch position. next is then the next
	// offset to deliver, or -1 if franz-go resolves the log start/end and the
	// first record fetched is the resume point.
	positioned bool
	next       int64
	hwm        int64 // high watermark as last seen; -1 unknown
	// lost counts records between the resume offset this ownership wanted
	// and the log start when that was higher: deleted by retention before
	// anyone persisted them (StoredIsExact only).
	lost int64
	// resumed is the exact offset this ownership resumed at, max(stored,
	// committed), or -1 (not yet positioned, or franz-go resolved the log
	// start/end). Everything below it was published before, by this
	// process's catalog or by the owner that committed it, so CommitHint
	// never commits below it: that would move the group's offset back.
	resumed int64
}

// New checks cfg and returns a Consumer. It does not connect: Run does.
func New(cfg Config, h Handler) (*Consumer, error) {
	if h == nil {
		return nil, errors.New("kafka: nil Handler")
	}
	if len(cfg.Brokers) == 0 {
		return nil, errors.New("kafka: no brokers")
	}
	if cfg.Topic == "" {
		return nil, errors.New("kafka: no topic")
	}
	if cfg.Group == "" {
		return nil, fmt.Errorf("kafka: topic %s: no consumer group", cfg.Topic)
	}
	if cfg.ClientID == "" {
		cfg.ClientID = "strata"
	}
	if cfg.FetchMaxWait <= 0 {
		cfg.FetchMaxWait = 50 * time.Millisecond
	}
	if cfg.LagRefresh <= 0 {
		cfg.LagRefresh = time.Second
	}
	if cfg.LeaveTimeout <= 0 {
		cfg.LeaveTimeout = 2 * time.Second
	}
	c := &Consumer{cfg: cfg, h: h, resume: make(chan struct{}, 1), log: cfg.Logger}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.log = c.log.With("topic", cfg.Topic, "group", cfg.Group)
	mech, err := saslMechanism(cfg.SASL)
	if err != nil {
		return nil, fmt.Errorf("kafka: topic %s: %w", cfg.Topic, err)
	}

	c.opts = []kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ClientID(cfg.ClientID),
		kgo.ConsumerGroup(cfg.Group),
		kgo.ConsumeTopics(cfg.Topic),
		// Cooperative-sticky: a rebalance revokes only the partitions that
		// move, so an owner publishes (persists segments + offsets) only for
		// those; eager balancers would revoke and restart every partition of
		// every member on each join or leave. Sticky also keeps partitions
		// where their catalog offsets are.
		kgo.Balancers(kgo.CooperativeStickyBalancer()),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		// The start offset only marks "no group commit" for adjustOffsets
		// (a negative offset); adjustOffsets always sets an exact offset.
		kgo.ConsumeStartOffset(kgo.NewOffset().AtStart()),
		kgo.OnPartitionsAssigned(c.onAssigned),
		kgo.AdjustFetchOffsetsFn(c.adjustOffsets),
		kgo.OnPartitionsRevoked(c.onRevoked),
		kgo.OnPartitionsLost(c.onLost),
		kgo.FetchMaxWait(cfg.FetchMaxWait),
		kgo.WithLogger(kgoLogger{c.log}),
		kgo.WithHooks(authHook{c}),
	}
	if mech != nil {
		c.opts = append(c.opts, kgo.SASL(mech))
	}
	if cfg.TLS != nil {
		c.opts = append(c.opts, kgo.DialTLSConfig(cfg.TLS.Clone()))
	}
	if cfg.SessionTimeout > 0 {
		c.opts = append(c.opts, kgo.SessionTimeout(cfg.SessionTimeout))
	}
	if cfg.HeartbeatInterval > 0 {
		c.opts = append(c.opts, kgo.HeartbeatInterval(cfg.HeartbeatInterval))
	}
	if cfg.RebalanceTimeout > 0 {
		c.opts = append(c.opts, kgo.RebalanceTimeout(cfg.RebalanceTimeout))
	}
	if cfg.InstanceID != "" {
		c.opts = append(c.opts, kgo.InstanceID(cfg.InstanceID))
	}
	c.mu.parts = make(map[int32]*partition)
	c.mu.others = make(map[int32]*otherPartition)
	return c, nil
}

// Pause stops fetching without leaving the group. Records is not called again
// until Resume, except once for a batch polled before Pause whose delivery had
// already begun; a batch polled but not yet being delivered is put back and
// fetched again after Resume. Rebalances go on while paused. Pause may be
// called from any goroutine, including from within Records.
func (c *Consumer) Pause() {
	c.paused.Store(true)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mu.cl != nil {
		c.mu.cl.PauseFetchTopics(c.cfg.Topic)
	}
	if c.mu.cancelPoll != nil {
		c.mu.cancelPoll()
	}
}

// Resume restarts fetching after Pause.
func (c *Consumer) Resume() {
	c.mu.Lock()
	c.paused.Store(false)
	if c.mu.cl != nil {
		c.mu.cl.ResumeFetchTopics(c.cfg.Topic)
	}
	c.mu.Unlock()
	select {
	case c.resume <- struct{}{}:
	default:
	}
}

// Paused reports whether the consumer is paused.
func (c *Consumer) Paused() bool { return c.paused.Load() }

// CommitHint commits next (the next offset to read per partition, as durably
// published by the owner) to the consumer group, for whichever member owns a
// partition next. Only partitions this member currently owns are committed;
// others are skipped, so a late hint cannot move another owner's position.
// A hint below the offset the partition's ownership resumed at is raised to
// it: the owner's catalog can be behind the group (this ownership resumed
// from the group's commit and has published nothing of the partition yet),
// and committing the catalog's offset would move the group's offset back, so
// that the next owner re-reads rows another process already holds.
// It may be called from any goroutine, including from within Records and
// Revoked.
func (c *Consumer) CommitHint(ctx context.Context, next map[int32]int64) error {
	c.mu.Lock()
	cl := c.mu.cl
	offsets := make(map[int32]kgo.EpochOffset, len(next))
	for p, off := range next {
		if st, owned := c.mu.parts[p]; owned && off >= 0 {
			offsets[p] = kgo.EpochOffset{Epoch: -1, Offset: max(off, st.resumed)}
		}
	}
	c.mu.Unlock()
	if cl == nil {
		return fmt.Errorf("kafka: topic %s: commit hint: consumer not running", c.cfg.Topic)
	}
	if len(offsets) == 0 {
		return nil
	}
	return c.commit(ctx, cl, offsets)
}

// ErrNotCommitted marks a commit the group certainly did not apply: a partition
// was no longer owned by this member, or the coordinator refused the member
// (unknown member, stale generation, fenced instance) or the commit (a rebalance
// completing, after retries). The partitions' next owner resumes below the
// offsets sent, so rows published with them would be read twice: the caller
// takes them back (see package ingest/stream).
var ErrNotCommitted = errors.New("offsets not committed to the group")

// Commit commits next, the offsets past rows the Handler has just published,
// for partitions this member must own. Unlike CommitHint it skips nothing: if
// any partition of next is not owned any more, nothing is committed and the
// error wraps ErrNotCommitted; a commit the coordinator refuses for the
// member's standing wraps it too. Other errors (a timeout, a lost connection)
// leave it unknown whether the commit was applied, and do not wrap it.
func (c *Consumer) Commit(ctx context.Context, next map[int32]int64) error {
	for attempt := 0; ; attempt++ {
		c.mu.Lock()
		cl := c.mu.cl
		offsets := make(map[int32]kgo.EpochOffset, len(next))
		var lost []int32
		for p, off := range next {
			st, owned := c.mu.parts[p]
			if !owned {
				lost = append(lost, p)
				continue
			}
			offsets[p] = kgo.EpochOffset{Epoch: -1, Offset: max(off, st.resumed)}
		}
		c.mu.Unlock()
		if len(lost) > 0 {
			slices.Sort(lost)
			return fmt.Errorf("kafka: topic %s: partitions %v no longer owned: %w", c.cfg.Topic, lost, ErrNotCommitted)
		}
		if cl == nil {
			return fmt.Errorf("kafka: topic %s: commit: consumer not running: %w", c.cfg.Topic, ErrNotCommitted)
		}
		if len(offsets) == 0 {
			return nil
		}
		err := c.commit(ctx, cl, offsets)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, kerr.RebalanceInProgress) && attempt < 3 && ctx.Err() == nil:
			// Refused while the group's assignment is being synced; this
			// member keeps its partitions until Revoked, so try again.
			time.Sleep(50 * time.Millisecond << attempt)
			continue
		case errors.Is(err, kerr.UnknownMemberID), errors.Is(err, kerr.IllegalGeneration),
			errors.Is(err, kerr.FencedInstanceID), errors.Is(err, kerr.RebalanceInProgress):
			return fmt.Errorf("%w: %w", err, ErrNotCommitted)
		default:
			return err
		}
	}
}

// commit commits offsets to the group synchronously, returning the request's
// error or the first partition's error code.
func (c *Consumer) commit(ctx context.Context, cl *kgo.Client, offsets map[int32]kgo.EpochOffset) error {
	var cerr error
	cl.CommitOffsetsSync(ctx, map[string]map[int32]kgo.EpochOffset{c.cfg.Topic: offsets},
		func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
			if err != nil {
				cerr = err
				return
			}
			for _, t := range resp.Topics {
				for _, p := range t.Partitions {
					if err := kerr.ErrorForCode(p.ErrorCode); err != nil && cerr == nil {
						cerr = fmt.Errorf("partition %d: %w", p.Partition, err)
					}
				}
			}
		})
	if cerr != nil {
		return fmt.Errorf("kafka: topic %s group %s: commit hint: %w", c.cfg.Topic, c.cfg.Group, cerr)
	}
	return nil
}

// Lag returns, per owned partition whose position and high watermark are
// known, the high watermark minus the next offset to deliver (never negative).
// The high watermark is as of the last fetch or refresh (Config.LagRefresh).
func (c *Consumer) Lag() map[int32]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	lag := make(map[int32]int64, len(c.mu.parts))
	for p, st := range c.mu.parts {
		if st.next < 0 || st.hwm < 0 {
			continue
		}
		lag[p] = max(st.hwm-st.next, 0)
	}
	return lag
}

// UnownedLag is the group's view of a partition of the topic that this member
// does not own: another member's, or nobody's.
type UnownedLag struct {
	Partition     int32
	Committed     int64 // the group's committed offset; -1: none
	HighWatermark int64
	// Lag is what the group has not committed: the high watermark minus the
	// committed offset (minus the log start when nothing is committed).
	Lag int64
	// Stalled is how long Lag has been above zero while the committed offset
	// stood still; 0 when Lag is 0. A live owner commits at every persist, so
	// a long stall means nobody reads the partition.
	Stalled time.Duration
}

// otherPartition is the state behind UnownedLag.
// REQUIRES: Consumer.mu is held for every access.
type otherPartition struct {
	committed, hwm, start int64
	since                 time.Time // when committed last moved or lag was 0
}

// GroupLag returns, for every partition of the topic this member does not
// own, the group's committed offset and lag as of the last refresh (every
// Config.LagRefresh), sorted by partition. Empty until the first refresh.
func (c *Consumer) GroupLag() []UnownedLag {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]UnownedLag, 0, len(c.mu.others))
	now := time.Now()
	for p, o := range c.mu.others {
		if _, owned := c.mu.parts[p]; owned {
			continue
		}
		u := UnownedLag{Partition: p, Committed: o.committed, HighWatermark: o.hwm, Lag: o.lag()}
		if u.Lag > 0 {
			u.Stalled = now.Sub(o.since)
		}
		out = append(out, u)
	}
	slices.SortFunc(out, func(a, b UnownedLag) int { return int(a.Partition - b.Partition) })
	return out
}

func (o *otherPartition) lag() int64 {
	from := o.committed
	if from < 0 {
		from = o.start
	}
	return max(o.hwm-from, 0)
}

// Assignment returns the partitions this member owns (Assigned, not yet
// Revoked), sorted.
func (c *Consumer) Assignment() []int32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	ps := make([]int32, 0, len(c.mu.parts))
	for p := range c.mu.parts {
		ps = append(ps, p)
	}
	slices.Sort(ps)
	return ps
}

// fail records the first fatal error and wakes Run.
func (c *Consumer) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mu.fatal == nil {
		c.mu.fatal = err
	}
	if c.mu.cancelPoll != nil {
		c.mu.cancelPoll()
	}
	select {
	case c.resume <- struct{}{}: // wakes a paused Run
	default:
	}
}

func (c *Consumer) fatal() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mu.fatal
}
