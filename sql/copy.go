package sql

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/ingest"
	"github.com/stratadb/strata/internal/sqlstate"
	"github.com/stratadb/strata/storage"
	"github.com/stratadb/strata/storage/catalog"
	"github.com/stratadb/strata/storage/rollup"
	"github.com/stratadb/strata/storage/roots"
	"github.com/stratadb/strata/storage/store"
)

// compactThreshold is the number of segments one time chunk may hold before an
// INSERT or COPY compacts the table. Every Append writes one segment per chunk it
// touches, so a client inserting row by row would otherwise leave thousands of tiny
// segments for every query to open; 8 keeps the merge rare (one in eight appends to
// the same chunk at worst) while bounding what a scan opens per chunk.
const compactThreshold = 8

// maybeCompact compacts def's table when some time chunk holds compactThreshold or
// more segments. It runs synchronously, so the statement's caller sees a compacted
// table afterwards (deterministic for tests).
func (db *DB) maybeCompact(ctx context.Context, def *catalog.TableDef) error {
	sn, err := db.store.Snapshot(def.Name)
	if err != nil {
		return nil // dropped meanwhile: nothing to compact
	}
	g := def.Granularity.Microseconds()
	if g <= 0 {
		g = 3600_000_000
	}
	perChunk := map[int64]int{}
	worst := 0
	for _, src := range sn.Sources {
		if src.NumRows() == 0 {
			continue
		}
		c := src.MinTime() / g
		if src.MinTime() < 0 && src.MinTime()%g != 0 {
			c--
		}
		perChunk[c]++
		worst = max(worst, perChunk[c])
	}
	sn.Release()
	if worst < compactThreshold {
		return nil
	}
	if err := db.store.Compact(ctx, def.Name); err != nil {
		return fmt.Errorf("compaction of %s failed: %v", def.Name, err)
	}
	return nil
}

func (b *binder) copyStmt(cs *pg.CopyStmt) (*bound, []engine.Field, error) {
	switch {
	case !cs.IsFrom:
		return nil, nil, engine.Unsupported("COPY TO")
	case cs.Query != nil:
		return nil, nil, engine.Unsupported("COPY (query)")
	case cs.IsProgram:
		return nil, nil, engine.Unsupported("COPY FROM PROGRAM")
	case cs.WhereClause != nil:
		return nil, nil, engine.Unsupported("COPY FROM ... WHERE")
	}
	if cs.Filename != "" {
		// Checked before anything names the file: a refused COPY says nothing about it.
		if err := b.need(access{kind: accessReadServerFiles}); err != nil {
			return nil, nil, err
		}
	}
	def, err := b.table(cs.Relation, accessInsert)
	if err != nil {
		return nil, nil, err
	}
	// A rollup table loads its declared columns; rows are rolled up before storing.
	spec, err := rollup.Of(def)
	if err != nil {
		return nil, nil, err
	}
	if spec != nil {
		def.Schema = *spec.Logical
	}
	opts := ingest.Options{Format: ingest.Text}
	for _, on := range cs.Options {
		d := on.GetDefElem()
		val := defString(d.Arg)
		switch strings.ToLower(d.Defname) {
		case "format":
			switch strings.ToLower(val) {
			case "csv":
				opts.Format = ingest.CSV
			case "text":
				opts.Format = ingest.Text
			case "json", "jsonl", "ndjson":
				opts.Format = ingest.JSON
			case "binary":
				return nil, nil, engine.Unsupported("COPY binary format")
			default:
				return nil, nil, engine.Errorf(sqlstate.InvalidParameterValue, "COPY format %q not recognized", val)
			}
		case "header":
			switch strings.ToLower(val) {
			case "", "true", "on", "1", "match":
				opts.Header = true
			case "false", "off", "0":
				opts.Header = false
			default:
				return nil, nil, engine.Errorf(sqlstate.InvalidParameterValue, "header requires a Boolean value")
			}
		case "delimiter":
			if len(val) != 1 {
				return nil, nil, engine.Errorf(sqlstate.FeatureNotSupported, "COPY delimiter must be a single one-byte character")
			}
			opts.Delimiter = val[0]
		case "null":
			v := val
			opts.Null = &v
		case "quote":
			if len(val) != 1 {
				return nil, nil, engine.Errorf(sqlstate.FeatureNotSupported, "COPY quote must be a single one-byte character")
			}
			opts.Quote = val[0]
		case "escape":
			if len(val) != 1 {
				return nil, nil, engine.Errorf(sqlstate.FeatureNotSupported, "COPY escape must be a single one-byte character")
			}
			opts.Escape = val[0]
		case "encoding":
			if e := strings.ToUpper(strings.ReplaceAll(val, "-", "")); e != "UTF8" && e != "UNICODE" {
				return nil, nil, engine.Unsupported("COPY encoding " + val)
			}
		case "freeze":
			// no meaning here
		default:
			return nil, nil, engine.Unsupported("COPY option " + d.Defname)
		}
	}
	ncols := len(def.Schema.Columns)
	for _, a := range cs.Attlist {
		name := a.GetString_().GetSval()
		if def.Schema.Index(name) < 0 {
			return nil, nil, engine.Errorf(sqlstate.UndefinedColumn, "column %q of relation %q does not exist", name, def.Name)
		}
		opts.Columns = append(opts.Columns, name)
	}
	lookup := store.IsLookup(&def)
	if lookup {
		opts.FixedTime = true
		for _, n := range opts.Columns {
			if n == store.LookupTimeColumn {
				return nil, nil, engine.Errorf(sqlstate.UndefinedColumn, "column %q of relation %q does not exist", n, def.Name)
			}
		}
		if len(opts.Columns) == 0 {
			for i, c := range def.Schema.Columns {
				if i != def.Schema.TimeColumn {
					opts.Columns = append(opts.Columns, c.Name)
				}
			}
		}
	}
	if len(opts.Columns) > 0 {
		ncols = len(opts.Columns)
	}
	load := func(ctx context.Context, s *Session, r io.Reader) (CopyStats, error) {
		// One transaction for the whole COPY, as in PostgreSQL: the rows become
		// visible together when the input ends, and a COPY that fails or whose
		// connection drops leaves nothing behind.
		tx, err := s.db.store.Begin(def.Name)
		if err != nil {
			return CopyStats{}, fmt.Errorf("copy into %s: %w", def.Name, err)
		}
		defer tx.Abort()
		// Decoding and writing segments run on two goroutines: the next batch is
		// decoded while the last one is written. A written batch goes back to the
		// decoder to be filled again (the sink keeps nothing of it: the segment
		// writer, rollup.Reduce and a lookup table's staging copy what they keep).
		w := startPipe(func(c *storage.Columns) error {
			if spec != nil {
				c = spec.Reduce(c)
			}
			if lookup {
				fillLookupTime(&def, c)
			}
			return tx.Append(ctx, c)
		})
		opts.Reuse = w.reuse
		st, err := ingest.Decode(ctx, r, &def.Schema, opts, w.send)
		if werr := w.close(); err == nil && werr != nil {
			err = fmt.Errorf("ingest: sink: %w", werr)
		}
		out := CopyStats{Rows: st.Rows, Rejected: st.Rejected}
		for i, rj := range st.Rejects {
			if i == maxCopyErrors {
				break
			}
			out.FirstErrors = append(out.FirstErrors, rj.Reason)
		}
		if err == nil {
			// A statement_timeout or cancel that fired after the last batch was
			// read still cancels the COPY: nothing is committed.
			err = ctx.Err()
		}
		if err == nil {
			err = tx.Commit()
		}
		if err != nil {
			if errors.Is(err, ingest.ErrInvalidOptions) {
				return out, engine.Errorf(sqlstate.InvalidParameterValue, "%v", err)
			}
			return out, writeErr(fmt.Errorf("copy into %s: %w", def.Name, err))
		}
		if st.Rows > 0 {
			if err := s.db.maybeCompact(ctx, &def); err != nil {
				out.FirstErrors = append(out.FirstErrors, err.Error())
			}
		}
		return out, nil
	}
	if cs.Filename == "" {
		return &bound{run: func(ctx context.Context, s *Session, _ []engine.Value) (*Result, error) {
			return &Result{
				Tag:         "COPY",
				CopyColumns: ncols,
				CopyText:    true,
				CopyIn: func(ctx context.Context, r io.Reader) (CopyStats, error) {
					return load(ctx, s, r)
				},
			}, nil
		}}, nil, nil
	}
	return &bound{run: func(ctx context.Context, s *Session, _ []engine.Value) (*Result, error) {
		// Relative to the data directory, as PostgreSQL's; only under a lake root.
		f, err := s.db.store.OpenServerFile(cs.Filename)
		if errors.Is(err, roots.ErrOutside) {
			return nil, err
		}
		if err != nil {
			return nil, &engine.Error{Code: sqlstate.IOError, Message: fmt.Sprintf("could not open file %q for reading: %v", cs.Filename, errors.Unwrap(err)), Err: err}
		}
		defer f.Close()
		st, err := load(ctx, s, f)
		if err != nil {
			return nil, err
		}
		return &Result{Tag: fmt.Sprintf("COPY %d", st.Rows), Notices: copyNotices(st)}, nil
	}}, nil, nil
}

// pipe hands a COPY's decoded batches to a goroutine of their own that writes
// them (sink), one batch in flight, so that decoding the next batch overlaps
// writing the last. A sink error (or panic) stops the writer; the decoder's next
// send, or close, returns it. Batches the sink wrote come back through reuse.
type pipe struct {
	ch   chan *storage.Columns
	free chan *storage.Columns // written batches, for the decoder to fill again
	done chan struct{}         // closed when the writer has stopped; err is then final
	err  error
}

func startPipe(sink func(*storage.Columns) error) *pipe {
	// free holds what can be in flight besides the batch being decoded: one
	// queued, one being written.
	p := &pipe{ch: make(chan *storage.Columns, 1), free: make(chan *storage.Columns, 2), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		defer func() {
			if v := recover(); v != nil {
				p.err = &engine.Error{Code: sqlstate.InternalError, Message: fmt.Sprintf("internal error: %v", v)}
			}
		}()
		for c := range p.ch {
			if err := sink(c); err != nil {
				p.err = err
				return
			}
			select {
			case p.free <- c:
			default:
			}
		}
	}()
	return p
}

// reuse returns a batch the sink is done with, or nil (ingest.Options.Reuse).
func (p *pipe) reuse() *storage.Columns {
	select {
	case c := <-p.free:
		return c
	default:
		return nil
	}
}

// send queues c for the writer; it returns the writer's error once it stopped.
func (p *pipe) send(c *storage.Columns) error {
	select {
	case <-p.done:
		return p.err
	default:
	}
	select {
	case p.ch <- c:
		return nil
	case <-p.done:
		return p.err
	}
}

// close waits for the writer to finish the queued batches and returns its error.
func (p *pipe) close() error {
	close(p.ch)
	<-p.done
	return p.err
}

// maxCopyErrors is how many rejected lines a COPY reports one by one; the rest are
// only counted.
const maxCopyErrors = 20

// copyNotices describes rejected lines for the client.
func copyNotices(st CopyStats) []string {
	if st.Rejected == 0 {
		return nil
	}
	msg := fmt.Sprintf("%d malformed lines rejected", st.Rejected)
	if len(st.FirstErrors) > 0 {
		msg += "; first: " + strings.Join(st.FirstErrors, "; ")
	}
	return []string{msg}
}
