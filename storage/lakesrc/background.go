package lakesrc

import (
	"context"
	"sync"

	"github.com/stratadb/strata/storage"
	"github.com/stratadb/strata/storage/lake"
)

// Background conversion: the cache is an accelerator, not a gate. A query never
// waits for a lake file to be converted; it reads the file's row groups
// directly (Direct). NoteDirectRead counts, per cache entry, the snapshots that
// read a file directly; at ConvertAfterReads the file is queued for conversion
// into a segment by one background worker, and the snapshots taken after the
// conversion read the segment (CachedSource). Conversions go through the same
// Source.Load as before (one at a time per entry, tmp file + rename), so a
// failed or interrupted one leaves nothing behind and is tried again after
// ConvertAfterReads more reads.

// ConvertAfterReads is the number of snapshots reading a file directly after
// which it is converted into the cache in the background: a file one query
// touched once is not worth converting; a file that keeps being read is.
const ConvertAfterReads = 2

// maxQueued bounds the conversions waiting for the worker; reads of more files
// are counted again later.
const maxQueued = 1024

// converter is the state of background conversion. Guarded by Cache.mu.
type converter struct {
	reads   map[string]int      // entry name → direct reads since its last conversion attempt
	queued  map[string]struct{} // entries waiting or converting
	jobs    []convertJob
	running bool // the worker goroutine is alive
	idle    *sync.Cond
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	failed  int64
}

type convertJob struct {
	name      string
	location  string
	snap      *lake.Snapshot
	file      *lake.AddFile
	schema    *storage.Schema
	deltaCols []string
}

// NoteDirectRead records that a snapshot reads file f directly (with schema and
// deltaCols, as for Source) and queues its conversion into the cache once it has
// been read ConvertAfterReads times. Files too large for the cache's limit are
// never queued. It never blocks on a conversion.
func (c *Cache) NoteDirectRead(location string, snap *lake.Snapshot, f *lake.AddFile, schema *storage.Schema, deltaCols []string) {
	name := entryName(location, f, schema)
	c.mu.Lock()
	defer c.mu.Unlock()
	cv := &c.conv
	if c.closed || (c.maxBytes > 0 && f.Size > c.maxBytes/4) {
		return
	}
	if e := c.entries[name]; e != nil && e.ready {
		return
	}
	if _, ok := cv.queued[name]; ok {
		return
	}
	if cv.reads == nil || len(cv.reads) >= maxMemoized {
		cv.reads = map[string]int{}
	}
	cv.reads[name]++
	if cv.reads[name] < ConvertAfterReads || len(cv.jobs) >= maxQueued {
		return
	}
	delete(cv.reads, name)
	if cv.queued == nil {
		cv.queued = map[string]struct{}{}
	}
	cv.queued[name] = struct{}{}
	cv.jobs = append(cv.jobs, convertJob{name: name, location: location, snap: snap, file: f, schema: schema, deltaCols: deltaCols})
	if !cv.running {
		if cv.ctx == nil {
			cv.ctx, cv.cancel = context.WithCancel(context.Background())
		}
		cv.running = true
		cv.wg.Add(1)
		go c.convertLoop()
	}
}

// convertLoop converts queued files until the queue is empty or the cache closes.
func (c *Cache) convertLoop() {
	defer c.conv.wg.Done()
	for {
		c.mu.Lock()
		cv := &c.conv
		if len(cv.jobs) == 0 || c.closed {
			cv.running = false
			cv.jobs = nil
			clear(cv.queued)
			if cv.idle != nil {
				cv.idle.Broadcast()
			}
			c.mu.Unlock()
			return
		}
		j := cv.jobs[0]
		cv.jobs = cv.jobs[1:]
		ctx := cv.ctx
		c.mu.Unlock()

		err := c.convertNow(ctx, j)

		c.mu.Lock()
		delete(cv.queued, j.name)
		if err != nil {
			cv.failed++
		}
		c.mu.Unlock()
	}
}

// convertNow converts one file into its cache entry (nothing to do when it is
// there already).
func (c *Cache) convertNow(ctx context.Context, j convertJob) error {
	src, err := c.Source(ctx, j.location, j.snap, j.file, j.schema, j.deltaCols)
	if err != nil {
		return err
	}
	defer src.Close()
	return src.Load(ctx)
}

// WaitIdle waits until no background conversion is queued or running (tests and
// benchmarks use it to measure the converted path).
func (c *Cache) WaitIdle() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conv.idle == nil {
		c.conv.idle = sync.NewCond(&c.mu)
	}
	for c.conv.running {
		c.conv.idle.Wait()
	}
}

// stopConversions cancels the running conversion and waits for the worker.
// REQUIRES: c.mu is not held; c.closed is set.
func (c *Cache) stopConversions() {
	c.mu.Lock()
	if c.conv.cancel != nil {
		c.conv.cancel()
	}
	c.mu.Unlock()
	c.conv.wg.Wait()
}
