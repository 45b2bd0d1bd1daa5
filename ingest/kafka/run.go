package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Run joins the group and delivers records to the Handler until ctx ends or a
// fatal error (a Handler error, an authentication or authorization failure).
// It then leaves the group (within Config.LeaveTimeout, see leave): Revoked
// is called for every partition still owned and has returned before Run
// does. Run returns nil when ctx ended, the fatal error otherwise.
func (c *Consumer) Run(ctx context.Context) error {
	if !c.started.CompareAndSwap(false, true) {
		return fmt.Errorf("kafka: topic %s: Run called twice", c.cfg.Topic)
	}
	c.mu.Lock()
	c.mu.hctx = context.WithoutCancel(ctx)
	c.mu.Unlock()

	// The client's own context: franz-go sends JoinGroup and SyncGroup with
	// it, and Close waits for them; cancelling it is the only way to end a
	// join that waits for the group's rebalance timeout (see leave).
	clientCtx, cancelClient := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelClient()
	cl, err := kgo.NewClient(append(c.opts, kgo.WithContext(clientCtx))...)
	if err != nil {
		return fmt.Errorf("kafka: topic %s: %w", c.cfg.Topic, err)
	}
	c.mu.Lock()
	c.mu.cl = cl
	if c.paused.Load() { // Pause before Run; a later Pause sees mu.cl
		cl.PauseFetchTopics(c.cfg.Topic)
	}
	c.mu.Unlock()

	lagCtx, stopLag := context.WithCancel(ctx)
	lagDone := make(chan struct{})
	go func() {
		defer close(lagDone)
		c.refreshLag(lagCtx, cl)
	}()

	err = c.poll(ctx, cl)
	stopLag()
	<-lagDone

	c.leave(cl)
	cancelClient()
	cl.Close() // waits for the final Revoked
	c.mu.Lock()
	c.mu.cl = nil
	var left []int32 // owned still: only if franz-go's view of the assignment differed from ours
	for p := range c.mu.parts {
		left = append(left, p)
	}
	c.mu.Unlock()
	if len(left) > 0 {
		c.log.Error("partitions still owned after leaving the group; revoking them", "partitions", left)
		c.release(left, false)
	}
	return err
}

// leave leaves the group within Config.LeaveTimeout, plus at most a second
// for a static member's LeaveGroup. franz-go's leave first waits for a join
// or sync in flight, which during a rebalance can last the group's whole
// rebalance timeout (a dead member that never rejoins); Run then cancels the
// client's context, which ends the join, and Close calls the final Revoked.
//
// franz-go sends no LeaveGroup for a static member (KIP-345 keeps its place
// for its restart). strata sends one anyway, naming the member by its
// instance id: a stopped process's partitions then move at once instead of
// after the session timeout, and the restart joins with the same instance id
// as an ordinary new member. Naming the instance id also removes a member of
// an earlier incarnation of this process that never joined completely.
func (c *Consumer) leave(cl *kgo.Client) {
	cl.AllowRebalance()
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.LeaveTimeout)
	defer cancel()
	if err := cl.LeaveGroupContext(ctx); err != nil {
		c.log.Warn("leaving consumer group", "err", err)
	}
	if c.cfg.InstanceID == "" {
		return
	}
	ctx, cancel2 := context.WithTimeout(context.Background(), time.Second)
	defer cancel2()
	memberID, _ := cl.GroupMetadata()
	req := kmsg.NewPtrLeaveGroupRequest()
	req.Group = c.cfg.Group
	m := kmsg.NewLeaveGroupRequestMember()
	m.MemberID = memberID
	m.InstanceID = kmsg.StringPtr(c.cfg.InstanceID)
	m.Reason = kmsg.StringPtr("strata is stopping")
	req.Members = append(req.Members, m)
	resp, err := req.RequestWith(ctx, cl)
	if err == nil {
		err = kerr.ErrorForCode(resp.ErrorCode)
		for _, rm := range resp.Members {
			if e := kerr.ErrorForCode(rm.ErrorCode); e != nil && err == nil {
				err = e
			}
		}
	}
	switch {
	case err == nil:
		c.log.Info("left consumer group", "instance_id", c.cfg.InstanceID, "member_id", memberID)
	case errors.Is(err, kerr.UnknownMemberID):
		// Not a member (never joined, or already removed): nothing to leave.
	default:
		c.log.Warn("leaving consumer group as a static member", "instance_id", c.cfg.InstanceID, "err", err)
	}
}

// poll is Run's loop: poll, filter, deliver, allow rebalances.
func (c *Consumer) poll(ctx context.Context, cl *kgo.Client) error {
	var batch []Record
	for {
		if err := c.fatal(); err != nil {
			return err
		}
		if ctx.Err() != nil {
			return nil
		}
		if c.paused.Load() {
			select {
			case <-ctx.Done():
			case <-c.resume:
			}
			continue
		}
		pctx, cancel := context.WithCancel(ctx)
		c.mu.Lock()
		c.mu.cancelPoll = cancel
		c.mu.Unlock()
		// A Pause or fail before cancelPoll was installed is seen here.
		var fetches kgo.Fetches
		if !c.paused.Load() && c.fatal() == nil {
			fetches = cl.PollFetches(pctx)
		}
		c.mu.Lock()
		c.mu.cancelPoll = nil
		c.mu.Unlock()
		cancel()
		if c.testAfterPoll != nil {
			c.testAfterPoll(fetches)
		}
		c.fetchErrors(fetches)

		// From the poll to AllowRebalance no rebalance callback can run, so
		// the assignment is stable while we filter and deliver.
		if c.paused.Load() || ctx.Err() != nil || c.fatal() != nil {
			// Polled but not delivered: put the cursors back where the
			// Handler's position is, so the records are fetched again after
			// Resume (or by the next owner).
			c.rewind(cl, fetches)
			cl.AllowRebalance()
			continue
		}
		var err error
		batch, err = c.collect(fetches, batch[:0])
		if err == nil && len(batch) > 0 {
			err = c.h.Records(ctx, batch)
			if err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
				err = nil // cancelled by shutdown, not a failure
			} else if err != nil {
				err = fmt.Errorf("kafka: topic %s: records: %w", c.cfg.Topic, err)
			}
		}
		clear(batch) // drop references to Keys and Values
		cl.AllowRebalance()
		if err != nil {
			c.fail(err)
		}
	}
}

// collect appends the records of owned partitions in fetches to batch,
// dropping any below a partition's next offset, and advances the positions.
func (c *Consumer) collect(fetches kgo.Fetches, batch []Record) ([]Record, error) {
	var err error
	fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
		if fp.Topic != c.cfg.Topic || err != nil {
			return
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		st := c.mu.parts[fp.Partition]
		if st == nil {
			if len(fp.Records) > 0 {
				c.log.Warn("dropping records of a partition not owned", "partition", fp.Partition, "records", len(fp.Records))
			}
			return
		}
		if fp.Err == nil && fp.HighWatermark > st.hwm {
			st.hwm = fp.HighWatermark
		}
		if len(fp.Records) > 0 && !st.positioned {
			// Fetching starts only after adjustOffsets set the position.
			err = fmt.Errorf("kafka: topic %s partition %d: records fetched before the resume offset was set", c.cfg.Topic, fp.Partition)
			return
		}
		dups := 0
		for _, r := range fp.Records {
			if r.Offset < st.next { // never true while next is -1
				dups++ // a rewind after an out-of-range reset: already delivered
				continue
			}
			batch = append(batch, Record{Partition: r.Partition, Offset: r.Offset, Key: r.Key, Value: r.Value, Timestamp: r.Timestamp})
			st.next = r.Offset + 1
		}
		if dups > 0 {
			c.log.Warn("dropped records already delivered", "partition", fp.Partition, "records", dups)
		}
	})
	return batch, err
}

// rewind sets the fetch position of every partition in fetches back to the
// next offset to deliver, so polled but undelivered records are fetched again.
// REQUIRES: called between a poll and AllowRebalance.
func (c *Consumer) rewind(cl *kgo.Client, fetches kgo.Fetches) {
	set := make(map[int32]kgo.EpochOffset)
	c.mu.Lock()
	fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
		st := c.mu.parts[fp.Partition]
		if fp.Topic != c.cfg.Topic || len(fp.Records) == 0 || st == nil || !st.positioned {
			return
		}
		at := st.next
		if at < 0 { // the first record fetched is the resume point
			at = fp.Records[0].Offset
		}
		set[fp.Partition] = kgo.EpochOffset{Epoch: -1, Offset: at}
	})
	c.mu.Unlock()
	if len(set) > 0 {
		cl.SetOffsets(map[string]map[int32]kgo.EpochOffset{c.cfg.Topic: set})
	}
}

// fetchErrors logs the errors of a poll and makes the unrecoverable ones fatal.
func (c *Consumer) fetchErrors(fetches kgo.Fetches) {
	fetches.EachError(func(topic string, partition int32, err error) {
		switch {
		case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded), errors.Is(err, kgo.ErrClientClosed):
		case isAuthErr(err):
			c.fail(fmt.Errorf("kafka: topic %s group %s: %w", c.cfg.Topic, c.cfg.Group, err))
		default:
			c.log.Warn("fetch error", "fetch_topic", topic, "partition", partition, "err", err)
		}
	})
}

// refreshLag re-reads the high watermarks of the owned partitions, and the
// group's offsets of the others, every LagRefresh until ctx ends.
func (c *Consumer) refreshLag(ctx context.Context, cl *kgo.Client) {
	t := time.NewTicker(c.cfg.LagRefresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := c.refreshGroupLag(ctx, cl); err != nil && ctx.Err() == nil {
			c.log.Debug("refreshing the group's offsets", "err", err)
		}
		ps := c.Assignment()
		if len(ps) == 0 {
			continue
		}
		hwm := highWatermarks(ctx, cl, c.cfg.Topic, ps, c.log)
		c.mu.Lock()
		for p, off := range hwm {
			if st := c.mu.parts[p]; st != nil {
				st.hwm = max(st.hwm, off)
			}
		}
		c.mu.Unlock()
	}
}

// highWatermarks lists the high watermarks of partitions ps of topic, for the
// lag refreshes of a Consumer and a Follower; nil (the error logged at debug
// level) when the brokers do not answer: the next refresh tries again.
func highWatermarks(ctx context.Context, cl *kgo.Client, topic string, ps []int32, log *slog.Logger) map[int32]int64 {
	hwm, err := listOffsets(ctx, cl, topic, ps, offsetLatest)
	if err != nil {
		if ctx.Err() == nil {
			log.Debug("refreshing high watermarks", "err", err)
		}
		return nil
	}
	return hwm
}

// refreshGroupLag reads the partitions of the topic, and for those this
// member does not own the log start, high watermark and group commit, for
// GroupLag.
func (c *Consumer) refreshGroupLag(ctx context.Context, cl *kgo.Client) error {
	all, err := topicPartitions(ctx, cl, c.cfg.Topic)
	if err != nil {
		return err
	}
	owned := c.Assignment()
	unowned := slices.DeleteFunc(all, func(p int32) bool { _, found := slices.BinarySearch(owned, p); return found })
	if len(unowned) == 0 {
		c.mu.Lock()
		clear(c.mu.others)
		c.mu.Unlock()
		return nil
	}
	start, err := listOffsets(ctx, cl, c.cfg.Topic, unowned, offsetEarliest)
	if err != nil {
		return err
	}
	hwm, err := listOffsets(ctx, cl, c.cfg.Topic, unowned, offsetLatest)
	if err != nil {
		return err
	}
	committed, err := groupOffsets(ctx, cl, c.cfg.Group, c.cfg.Topic, unowned)
	if err != nil {
		return err
	}
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	seen := make(map[int32]bool, len(unowned))
	for _, p := range unowned {
		seen[p] = true
		o := c.mu.others[p]
		com, ok := committed[p]
		if !ok {
			com = -1
		}
		if o == nil || o.committed != com {
			o = &otherPartition{committed: com, since: now}
			c.mu.others[p] = o
		}
		o.start, o.hwm = start[p], hwm[p]
		if o.lag() == 0 {
			o.since = now
		}
	}
	for p := range c.mu.others {
		if !seen[p] {
			delete(c.mu.others, p)
		}
	}
	return nil
}

// topicPartitions returns the partitions of topic, sorted.
func topicPartitions(ctx context.Context, cl *kgo.Client, topic string) ([]int32, error) {
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("metadata of %s: %w", topic, err)
	}
	for _, t := range resp.Topics {
		if t.Topic == nil || *t.Topic != topic {
			continue
		}
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
			return nil, fmt.Errorf("metadata of %s: %w", topic, err)
		}
		ps := make([]int32, 0, len(t.Partitions))
		for _, p := range t.Partitions {
			ps = append(ps, p.Partition)
		}
		slices.Sort(ps)
		return ps, nil
	}
	return nil, fmt.Errorf("metadata of %s: topic missing from the response", topic)
}

// groupOffsets returns the committed offsets of group for ps of topic; a
// partition without a commit is absent.
func groupOffsets(ctx context.Context, cl *kgo.Client, group, topic string, ps []int32) (map[int32]int64, error) {
	req := kmsg.NewPtrOffsetFetchRequest()
	rt := kmsg.NewOffsetFetchRequestTopic()
	rt.Topic, rt.Partitions = topic, ps
	req.Group, req.Topics = group, []kmsg.OffsetFetchRequestTopic{rt}
	// Version 8 and later ask per group; kgo picks the version.
	rg := kmsg.NewOffsetFetchRequestGroup()
	gt := kmsg.NewOffsetFetchRequestGroupTopic()
	gt.Topic, gt.Partitions = topic, ps
	rg.Group, rg.Topics = group, []kmsg.OffsetFetchRequestGroupTopic{gt}
	req.Groups = []kmsg.OffsetFetchRequestGroup{rg}
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("offsets of group %s: %w", group, err)
	}
	out := make(map[int32]int64, len(ps))
	add := func(p int32, off int64, code int16) error {
		if err := kerr.ErrorForCode(code); err != nil {
			return fmt.Errorf("offsets of group %s: partition %d: %w", group, p, err)
		}
		if off >= 0 {
			out[p] = off
		}
		return nil
	}
	if len(resp.Groups) > 0 {
		g := resp.Groups[0]
		if err := kerr.ErrorForCode(g.ErrorCode); err != nil {
			return nil, fmt.Errorf("offsets of group %s: %w", group, err)
		}
		for _, t := range g.Topics {
			for _, p := range t.Partitions {
				if t.Topic == topic {
					if err := add(p.Partition, p.Offset, p.ErrorCode); err != nil {
						return nil, err
					}
				}
			}
		}
		return out, nil
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return nil, fmt.Errorf("offsets of group %s: %w", group, err)
	}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if t.Topic == topic {
				if err := add(p.Partition, p.Offset, p.ErrorCode); err != nil {
					return nil, err
				}
			}
		}
	}
	return out, nil
}
