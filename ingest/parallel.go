package ingest

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/stratadb/strata/storage"
)

// Parallel decoding of the text and csv formats (Options.Workers > 1).
//
// The reading goroutine (the framer: Decode's caller) does everything that depends
// on what came before — splitting lines into records (a quoted csv field or an
// escaped text newline may span lines, so a record's end depends on the whole
// record), line numbers, the header, the end marker, too-long and unterminated
// records — and copies each record into a job of up to BatchRows records. Workers
// convert jobs into batches, each with a decoder of its own. A collector hands the
// batches to the sink in input order, so the sink sees what the sequential decoder
// would give it except that each batch holds the good rows of BatchRows records
// (not BatchRows rows), and Stats hold the same rejects in the same (line) order.
// Record bytes are copied out of the read buffer, so a record split across reads
// (across CopyData messages of a COPY) reaches its worker whole.

// job is a run of consecutive records and, once converted, its batch.
type job struct {
	buf   []byte  // the records, concatenated
	ends  []int   // record k is buf[ends[k-1]:ends[k]] (ends[-1] = 0)
	lines []int64 // record k's first line
	// rejected and rejects: the framer's rejects among these records, then (once
	// done) the worker's too, in line order.
	rejected int64
	rejects  []Reject
	cols     *storage.Columns // the converted rows; nil when none
	err      error            // a worker's panic
	done     chan struct{}    // closed when the worker is through
}

// parallel is the framer's side of a parallel Decode.
type parallel struct {
	workers int
	cur     *job
	todo    chan *job     // to the workers
	order   chan *job     // to the collector, in input order
	free    chan []byte   // record buffers the collector is through with
	stop    chan struct{} // closed when the collector stopped early (its error is final)
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	lastBuf int

	// Written by the collector; read once it is done.
	stats   Stats
	err     error
	collect chan struct{} // closed when the collector is done
}

// runParallel decodes the input with workers converting records; see above.
func (d *decoder) runParallel(workers int) error {
	ctx, cancel := context.WithCancel(d.ctx)
	defer cancel()
	p := &parallel{
		workers: workers,
		todo:    make(chan *job, workers),
		order:   make(chan *job, workers+1),
		free:    make(chan []byte, workers+2),
		stop:    make(chan struct{}),
		cancel:  cancel,
		collect: make(chan struct{}),
	}
	outer := d.ctx
	d.par = p
	d.ctx = ctx
	d.lr.ctx = ctx
	defer func() { d.par, d.ctx, d.lr.ctx = nil, outer, outer }()
	for range workers {
		w, err := newDecoder(d.schema, &d.opts)
		if err != nil {
			return err // cannot happen: d was made from the same options
		}
		w.dictEncode = true
		p.wg.Add(1)
		go p.work(w)
	}
	go p.collectJobs(outer, d.sink, d.maxRejects)

	var err error
	if d.opts.Format == CSV {
		err = d.runCSV()
	} else {
		err = d.runText()
	}
	if err == nil {
		err = p.dispatch(d) // the last records
	}
	close(p.todo)
	close(p.order)
	<-p.collect
	p.wg.Wait()
	d.stats = p.stats
	if p.err != nil {
		return p.err
	}
	return err
}

// add appends a record (it may alias the read buffer: it is copied) to the job
// being filled, handing the job on when it holds BatchRows records.
func (p *parallel) add(d *decoder, rec []byte) error {
	j := p.cur
	if j == nil {
		j = p.newJob(d)
	}
	j.buf = append(j.buf, rec...)
	j.ends = append(j.ends, len(j.buf))
	j.lines = append(j.lines, d.lr.recordLine)
	if len(j.ends) >= d.batchRows {
		return p.dispatch(d)
	}
	return nil
}

func (p *parallel) newJob(d *decoder) *job {
	j := &job{done: make(chan struct{})}
	select {
	case b := <-p.free:
		j.buf = b[:0]
	default:
		// The last job's size, or a guess of 128 bytes a record for the first.
		j.buf = make([]byte, 0, max(p.lastBuf+p.lastBuf/8, 128*min(d.batchRows, initialBatchRows)))
	}
	n := min(d.batchRows, initialBatchRows)
	if p.lastBuf > 0 {
		n = d.batchRows
	}
	j.ends = make([]int, 0, n)
	j.lines = make([]int64, 0, n)
	p.cur = j
	return j
}

// dispatch hands the job being filled to the workers and the collector, with the
// framer's rejects since the last dispatch (all of them lie after the last job's
// records and before this job's last one). A job of rejects only goes too: the
// collector keeps its rejects in order.
func (p *parallel) dispatch(d *decoder) error {
	j := p.cur
	if j == nil {
		if d.stats.Rejected == 0 {
			return nil
		}
		j = p.newJob(d)
	}
	p.cur = nil
	j.rejected, j.rejects = d.stats.Rejected, d.stats.Rejects
	d.stats = Stats{}
	p.lastBuf = max(p.lastBuf, len(j.buf))
	select {
	case p.order <- j:
	case <-p.stop:
		return p.errStopped(d)
	}
	select {
	case p.todo <- j:
	case <-p.stop:
		return p.errStopped(d)
	}
	return nil
}

// errStopped is what the framer returns once the collector stopped: its error
// is reported instead (runParallel), or the context's.
func (p *parallel) errStopped(d *decoder) error {
	if err := d.ctx.Err(); err != nil {
		return err
	}
	return context.Canceled
}

// work converts jobs with its own decoder w until todo closes.
func (p *parallel) work(w *decoder) {
	defer p.wg.Done()
	for j := range p.todo {
		p.convert(w, j)
		close(j.done)
	}
}

func (p *parallel) convert(w *decoder, j *job) {
	defer func() {
		if v := recover(); v != nil {
			j.err = fmt.Errorf("BUG: ingest: decoding lines %d..: %v", j.lines[0], v)
			w.batch = nil
		}
	}()
	// One batch per job: never flushed or grown on the way.
	w.batch, w.stats = nil, Stats{}
	w.batchRows = len(j.ends) + 1
	w.nextCap = max(len(j.ends), 1)
	start := 0
	for k, end := range j.ends {
		w.lr.recordLine = j.lines[k]
		rec := j.buf[start:end:end]
		start = end
		if !w.decodeRecord(rec) {
			continue
		}
		w.commitRow() // cannot flush: the batch has room for every record
	}
	j.cols = w.takeBatch()
	if w.stats.Rejected > 0 {
		j.rejected += w.stats.Rejected
		j.rejects = append(j.rejects, w.stats.Rejects...)
		slices.SortStableFunc(j.rejects, func(a, b Reject) int { return int(a.Line - b.Line) })
	}
}

// collectJobs hands the jobs' batches to sink in input order and adds up their
// stats. After an error (sink, a worker's panic, ctx) it hands on nothing more,
// tells the framer to stop, and drains the jobs.
func (p *parallel) collectJobs(ctx context.Context, sink func(*storage.Columns) error, maxRejects int) {
	defer close(p.collect)
	stopped := false
	fail := func(err error) {
		p.err = err
		stopped = true
		close(p.stop)
		p.cancel()
	}
	for j := range p.order {
		if stopped {
			continue // a job after the stop may never reach a worker
		}
		<-j.done
		p.stats.Rejected += j.rejected
		for _, r := range j.rejects {
			if len(p.stats.Rejects) >= maxRejects {
				break
			}
			p.stats.Rejects = append(p.stats.Rejects, r)
		}
		if j.err != nil {
			fail(j.err)
			continue
		}
		if j.cols == nil {
			continue
		}
		if err := ctx.Err(); err != nil {
			fail(err)
			continue
		}
		if err := sink(j.cols); err != nil {
			fail(fmt.Errorf("ingest: sink: %w", err))
			continue
		}
		p.stats.Rows += int64(j.cols.Len)
		select {
		case p.free <- j.buf:
		default:
		}
	}
}
