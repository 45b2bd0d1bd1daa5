package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// How a partition's resume offset is set. franz-go runs, for every partition
// a group session adds:
//
//	OnPartitionsAssigned → OffsetFetch (the group's commits) → AdjustFetchOffsetsFn → fetching
//
// onAssigned asks the Handler for its catalog offsets and records them;
// adjustOffsets receives the group-committed offsets and replaces each with
// the exact resume offset, so fetching starts exactly there. Both run before
// the partition's first fetch, and with BlockRebalanceOnPoll onAssigned and
// onRevoked run only while no polled batch is being delivered.

// onAssigned is franz-go's OnPartitionsAssigned.
func (c *Consumer) onAssigned(_ context.Context, cl *kgo.Client, assigned map[string][]int32) {
	ps := slices.Clone(assigned[c.cfg.Topic])
	if len(ps) == 0 || c.fatal() != nil {
		return // a failing consumer takes nothing: adjustOffsets refuses it
	}
	slices.Sort(ps)
	c.mu.Lock()
	if c.mu.cl == nil {
		c.mu.cl = cl // the group may be joined before Run stores the client
	}
	hctx := c.mu.hctx
	ps = slices.DeleteFunc(ps, func(p int32) bool {
		// Cannot happen with franz-go's cooperative diff; if it did, the
		// partition keeps its position (see adjustOffsets).
		_, owned := c.mu.parts[p]
		return owned
	})
	c.mu.Unlock()
	if len(ps) == 0 {
		return
	}
	stored, err := c.h.Assigned(hctx, ps)
	if err != nil {
		c.fail(fmt.Errorf("kafka: topic %s: assigned partitions %v: %w", c.cfg.Topic, ps, err))
		return
	}
	for p, off := range stored {
		if off < 0 {
			c.fail(fmt.Errorf("kafka: topic %s partition %d: Assigned returned negative offset %d", c.cfg.Topic, p, off))
			return
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range ps {
		st := &partition{next: -1, hwm: -1, resumed: -1}
		if off, ok := stored[p]; ok {
			st.stored, st.hasStored = off, true
		}
		c.mu.parts[p] = st
	}
	c.log.Info("partitions assigned", "partitions", ps, "stored", stored)
}

const (
	offsetEarliest = -2 // ListOffsets timestamp of the log start
	offsetLatest   = -1 // ListOffsets timestamp of the high watermark
)

// adjustOffsets is franz-go's AdjustFetchOffsetsFn: it replaces the offsets
// franz-go fetched from the group (a commit, or the negative start offset when
// there is none) with the exact resume offset of each partition.
func (c *Consumer) adjustOffsets(ctx context.Context, offsets map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	tp := offsets[c.cfg.Topic]
	if len(tp) == 0 {
		return offsets, nil
	}
	cl := c.client()
	if cl == nil {
		return nil, fmt.Errorf("kafka: topic %s: offsets fetched before the client was set", c.cfg.Topic)
	}
	ps := make([]int32, 0, len(tp))
	for p := range tp {
		ps = append(ps, p)
	}
	slices.Sort(ps)

	// An error returned from here ends franz-go's group session as if the
	// partitions were lost (OnPartitionsLost of everything), so the listings
	// below are best-effort: without the high watermarks Lag waits for the
	// first fetch; without the start offsets franz-go resolves log start/end.
	hwm, err := listOffsets(ctx, cl, c.cfg.Topic, ps, offsetLatest)
	if c.testAdjustListErr != nil {
		hwm, err = nil, c.testAdjustListErr
	}
	if err != nil {
		c.log.Warn("listing high watermarks", "err", err)
	}
	var unknown []int32 // neither stored nor committed
	c.mu.Lock()
	for _, p := range ps {
		st := c.mu.parts[p]
		if st == nil {
			c.mu.Unlock()
			err := fmt.Errorf("kafka: topic %s partition %d: assigned without a successful Assigned", c.cfg.Topic, p)
			c.fail(err)
			return nil, err
		}
		if !st.positioned && !st.hasStored && (tp[p].EpochOffset().Offset < 0 || c.cfg.StoredIsExact) {
			unknown = append(unknown, p)
		}
	}
	c.mu.Unlock()
	var start map[int32]int64
	// logStart: with exact stored offsets, a stored offset below the log start
	// is data loss, found here.
	var logStart map[int32]int64
	if c.cfg.StoredIsExact {
		if logStart, err = listOffsets(ctx, cl, c.cfg.Topic, ps, offsetEarliest); err != nil {
			c.log.Warn("listing log start offsets; data loss is checked at the next assignment", "err", err)
		}
	}
	if len(unknown) > 0 {
		at := int64(offsetEarliest)
		if c.cfg.StartAtEnd {
			at = offsetLatest
		}
		start, err = listOffsets(ctx, cl, c.cfg.Topic, unknown, at)
		if c.testAdjustListErr != nil {
			start, err = nil, c.testAdjustListErr
		}
		if err != nil {
			c.log.Warn("listing start offsets; franz-go resolves them", "err", err)
		}
	}

	c.mu.Lock()
	resumed := make(map[int32]int64, len(ps))
	// ahead: partitions resumed from this process's catalog above the group's
	// commit (this process published rows and was killed before committing
	// the hint, or the hint failed). The group is brought up to the resume
	// offset below, before the first record is fetched: otherwise, until this
	// owner publishes rows of the partition, a kill or a move would let the
	// next owner re-read from the group's older offset rows this process holds.
	ahead := map[int32]kgo.EpochOffset{}
	for _, p := range ps {
		st := c.mu.parts[p]
		if st == nil {
			c.mu.Unlock()
			return nil, fmt.Errorf("kafka: topic %s partition %d: revoked while its offsets were fetched", c.cfg.Topic, p)
		}
		committed := tp[p].EpochOffset().Offset
		var resume int64
		switch {
		case st.positioned && st.next >= 0:
			resume = st.next // already positioned in this ownership: keep going
		case c.cfg.StoredIsExact && st.hasStored:
			resume = st.stored
			if ls, ok := logStart[p]; ok && resume < ls {
				st.lost += ls - resume
				c.log.Error("DATA LOSS: records deleted by the topic's retention before any process persisted them; resuming at the log start",
					"topic", c.cfg.Topic, "partition", p, "resume", resume, "log_start", ls, "lost", ls-resume)
				if dl, ok := c.h.(DataLossHandler); ok {
					dl.DataLoss(p, resume, ls)
				}
				resume = ls
			}
			if resume != committed && !st.positioned {
				ahead[p] = kgo.EpochOffset{Epoch: -1, Offset: resume} // the group follows the lake, for monitoring
			}
		case (st.hasStored || committed >= 0) && !c.cfg.StoredIsExact:
			resume = committed // negative when there is no commit
			if st.hasStored {
				resume = max(st.stored, committed)
				if st.stored > committed && !st.positioned {
					ahead[p] = kgo.EpochOffset{Epoch: -1, Offset: resume}
				}
			}
		default:
			off, ok := start[p]
			if !ok {
				// Not listed (or positioned so, and still waiting for its
				// first record): franz-go resolves the log start/end, and
				// the first record fetched is the resume point.
				st.positioned = true
				resumed[p] = -1
				tp[p] = kgo.NewOffset().AtStart()
				if c.cfg.StartAtEnd {
					tp[p] = kgo.NewOffset().AtEnd()
				}
				continue
			}
			resume = off
		}
		if h, ok := hwm[p]; ok {
			st.hwm = max(st.hwm, h)
			if resume > h {
				c.log.Warn("resume offset beyond the log end; the topic was re-created or the broker lost data",
					"partition", p, "resume", resume, "high_watermark", h)
			}
		}
		st.next, st.positioned = resume, true
		if st.resumed < 0 {
			st.resumed = resume
		}
		resumed[p] = resume
		tp[p] = kgo.NewOffset().At(resume).WithEpoch(-1)
	}
	c.mu.Unlock()
	c.log.Info("resuming partitions", "offsets", resumed)
	// Synchronously, inside franz-go's group session: the session waits for
	// this function before it can end, so no revocation runs meanwhile and
	// the commit carries the generation these partitions were assigned in.
	if len(ahead) > 0 {
		if err := c.commit(ctx, cl, ahead); err != nil {
			c.log.Warn("group offset behind this process's catalog not brought up; if these partitions move, their next owner re-reads rows this process holds",
				"partitions", ahead, "err", err)
		} else {
			up := make(map[int32]int64, len(ahead))
			for p, eo := range ahead {
				up[p] = eo.Offset
			}
			c.log.Info("group offset brought up to this process's catalog", "offsets", up)
		}
	}
	return offsets, nil
}

// onRevoked is franz-go's OnPartitionsRevoked. franz-go has stopped fetching
// the partitions and dropped their buffered records before calling it.
func (c *Consumer) onRevoked(_ context.Context, _ *kgo.Client, revoked map[string][]int32) {
	c.release(revoked[c.cfg.Topic], false)
}

// onLost is franz-go's OnPartitionsLost.
func (c *Consumer) onLost(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
	c.release(lost[c.cfg.Topic], true)
}

// release hands owned partitions back: Revoked (or Lost) first, so the
// Handler can still CommitHint them, then they are forgotten.
func (c *Consumer) release(ps []int32, lost bool) {
	c.mu.Lock()
	hctx := c.mu.hctx
	ps = slices.DeleteFunc(slices.Clone(ps), func(p int32) bool {
		_, owned := c.mu.parts[p]
		return !owned
	})
	c.mu.Unlock()
	if len(ps) == 0 {
		return
	}
	slices.Sort(ps)
	if lh, ok := c.h.(LostHandler); ok && lost {
		c.log.Warn("partitions lost", "partitions", ps)
		lh.Lost(hctx, ps)
	} else {
		c.log.Info("partitions revoked", "partitions", ps, "lost", lost)
		c.h.Revoked(hctx, ps)
	}
	c.mu.Lock()
	for _, p := range ps {
		delete(c.mu.parts, p)
	}
	c.mu.Unlock()
}

func (c *Consumer) client() *kgo.Client {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mu.cl
}

// listOffsets returns the offset at ts (offsetEarliest or offsetLatest) of
// each partition.
func listOffsets(ctx context.Context, cl *kgo.Client, topic string, ps []int32, ts int64) (map[int32]int64, error) {
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	for _, p := range ps {
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition = p
		rp.CurrentLeaderEpoch = -1
		rp.Timestamp = ts
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("list offsets: %w", err)
	}
	out := make(map[int32]int64, len(ps))
	for _, t := range resp.Topics {
		if t.Topic != topic {
			continue
		}
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return nil, fmt.Errorf("list offsets: partition %d: %w", p.Partition, err)
			}
			out[p.Partition] = p.Offset
		}
	}
	for _, p := range ps {
		if _, ok := out[p]; !ok {
			return nil, fmt.Errorf("list offsets: partition %d missing from the response", p)
		}
	}
	return out, nil
}

// authHook makes an authentication failure fatal. franz-go only logs it and
// retries the connection forever; the broker's answer is not going to change.
type authHook struct{ c *Consumer }

func (h authHook) OnBrokerConnect(_ kgo.BrokerMetadata, _ time.Duration, _ net.Conn, err error) {
	if err != nil && isAuthErr(err) {
		h.c.fail(fmt.Errorf("kafka: topic %s: connecting: %w", h.c.cfg.Topic, err))
	}
}

func isAuthErr(err error) bool {
	return errors.Is(err, kerr.SaslAuthenticationFailed) || errors.Is(err, kerr.IllegalSaslState) ||
		errors.Is(err, kerr.UnsupportedSaslMechanism) || errors.Is(err, kerr.TopicAuthorizationFailed) ||
		errors.Is(err, kerr.GroupAuthorizationFailed) || errors.Is(err, kerr.ClusterAuthorizationFailed)
}

func saslMechanism(s SASL) (sasl.Mechanism, error) {
	switch strings.ToUpper(s.Mechanism) {
	case "":
		return nil, nil
	case "PLAIN":
		return plain.Auth{User: s.User, Pass: s.Password}.AsMechanism(), nil
	case "SCRAM-SHA-256":
		return scram.Auth{User: s.User, Pass: s.Password}.AsSha256Mechanism(), nil
	case "SCRAM-SHA-512":
		return scram.Auth{User: s.User, Pass: s.Password}.AsSha512Mechanism(), nil
	}
	return nil, fmt.Errorf("unknown SASL mechanism %q (want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)", s.Mechanism)
}

// kgoLogger passes franz-go's messages to slog. franz-go's info level narrates
// every step of the group lifecycle, so it goes to slog's debug level (and its
// debug level nowhere); warnings and errors keep theirs.
type kgoLogger struct{ l *slog.Logger }

func (k kgoLogger) Level() kgo.LogLevel {
	ctx := context.Background()
	switch {
	case k.l.Enabled(ctx, slog.LevelDebug):
		return kgo.LogLevelInfo
	case k.l.Enabled(ctx, slog.LevelWarn):
		return kgo.LogLevelWarn
	case k.l.Enabled(ctx, slog.LevelError):
		return kgo.LogLevelError
	}
	return kgo.LogLevelNone
}

func (k kgoLogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	l := slog.LevelDebug
	switch level {
	case kgo.LogLevelError:
		l = slog.LevelError
	case kgo.LogLevelWarn:
		l = slog.LevelWarn
	}
	k.l.Log(context.Background(), l, "kgo: "+msg, keyvals...)
}
