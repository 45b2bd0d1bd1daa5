package kafka

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// leaveTimeout bounds the LeaveGroup request at shutdown (after the final
// Revoked). A member that fails to leave is removed at its session timeout.
const leaveTimeout = 30 * time.Second

// Run joins the group and delivers records to the Handler until ctx ends or a
// fatal error (a Handler error, an authentication or authorization failure).
// It then leaves the group cleanly: Revoked is called for every partition
// still owned and has returned before Run does. Run returns nil when ctx
// ended, the fatal error otherwise.
func (c *Consumer) Run(ctx context.Context) error {
	if !c.started.CompareAndSwap(false, true) {
		return fmt.Errorf("kafka: topic %s: Run called twice", c.cfg.Topic)
	}
	c.mu.Lock()
	c.mu.hctx = context.WithoutCancel(ctx)
	c.mu.Unlock()

	cl, err := kgo.NewClient(c.opts...)
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

	cl.AllowRebalance()
	leaveCtx, cancel := context.WithTimeout(context.Background(), leaveTimeout)
	if lerr := cl.LeaveGroupContext(leaveCtx); lerr != nil {
		c.log.Warn("leaving consumer group", "err", lerr)
	}
	cancel()
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

// refreshLag re-reads the high watermarks of the owned partitions every
// LagRefresh until ctx ends.
func (c *Consumer) refreshLag(ctx context.Context, cl *kgo.Client) {
	t := time.NewTicker(c.cfg.LagRefresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		ps := c.Assignment()
		if len(ps) == 0 {
			continue
		}
		hwm, err := listOffsets(ctx, cl, c.cfg.Topic, ps, offsetLatest)
		if err != nil {
			if ctx.Err() == nil {
				c.log.Debug("refreshing high watermarks", "err", err)
			}
			continue
		}
		c.mu.Lock()
		for p, off := range hwm {
			if st := c.mu.parts[p]; st != nil && off > st.hwm {
				st.hwm = off
			}
		}
		c.mu.Unlock()
	}
}
