package store

import (
	"context"
	"fmt"
	"strconv"

	"github.com/stratadb/strata/storage"
	"github.com/stratadb/strata/storage/rollup"
)

// Compact merges, in every time chunk of table that has more than one segment, all
// of the chunk's segments into one, and publishes the new segments and the removal
// of the old ones in one catalog batch. Rows and values are unchanged. The old files
// are deleted once no snapshot holds them. Segments appended while Compact runs are
// left alone. One Compact runs at a time. In a rollup table the merged rows are
// rolled up again, so a bucket's rows from several segments become one.
func (s *Store) Compact(ctx context.Context, table string) error {
	s.compactMu.Lock()
	defer s.compactMu.Unlock()
	def, ok := s.cat.Table(table)
	if !ok {
		return fmt.Errorf("compact %s: %w", table, ErrNoTable)
	}
	// Segments a crash left in a pending handoff stay as they are until Handoff
	// resolves it: it must find exactly those segments.
	var pending map[string]bool
	if ls, _ := s.cat.Lake(table); ls.Pending != nil {
		pending = make(map[string]bool, len(ls.Pending.Segments))
		for _, id := range ls.Pending.Segments {
			pending[id] = true
		}
	}
	refs, release, err := s.holdSegments(def, func(ref *segRef) bool { return !pending[ref.meta.ID] })
	if err != nil {
		return fmt.Errorf("compact %s: %w", table, err)
	}
	defer release()
	// Segments of one chunk and one source (a streaming table's Kafka partition,
	// "" for none) are merged: a segment never mixes sources, so handoff by
	// offset can take or drop a source's rows by whole segments.
	type group struct {
		start  int64
		source string
		refs   []*segRef
	}
	byKey := map[[2]string][]*segRef{}
	var order [][2]string
	for _, ref := range refs {
		k := [2]string{strconv.FormatInt(ref.meta.ChunkStart, 10), ref.meta.Source}
		if byKey[k] == nil {
			order = append(order, k)
		}
		byKey[k] = append(byKey[k], ref)
	}
	var groups []group
	for _, k := range order {
		if g := byKey[k]; len(g) > 1 {
			groups = append(groups, group{start: g[0].meta.ChunkStart, source: k[1], refs: g})
		}
	}
	if len(groups) == 0 {
		return nil
	}
	spec, err := rollup.Of(def)
	if err != nil {
		return fmt.Errorf("compact %s: %w", table, err)
	}
	first, err := s.cat.ReserveSeqs(table, len(groups))
	if err != nil {
		return fmt.Errorf("compact %s: %w", table, err)
	}
	var added, removed []*segRef
	for i, g := range groups {
		if err := ctx.Err(); err != nil {
			discard(added)
			return fmt.Errorf("compact %s: %w", table, err)
		}
		srcs := make([]storage.Source, len(g.refs))
		for k, ref := range g.refs {
			srcs[k] = ref.reader
		}
		cols, err := readAll(&def.Schema, srcs)
		if err == nil && spec != nil {
			cols = spec.ReducePhysical(cols) // rows of one bucket from several segments become one
		}
		if err == nil {
			var ref *segRef
			ref, err = s.writeSegment(&def, g.start, first+uint64(i), cols)
			if err == nil {
				ref.meta.Source = g.source
				added = append(added, ref)
			}
		}
		if err != nil {
			discard(added)
			return fmt.Errorf("compact %s: chunk %d: %w", table, g.start, err)
		}
		removed = append(removed, g.refs...)
	}
	if err := s.publish(def, added, removed, nil); err != nil {
		discard(added)
		return fmt.Errorf("compact %s: %w", table, err)
	}
	return nil
}

// readAll reads every row of srcs, in order, into new Columns of schema.
func readAll(schema *storage.Schema, srcs []storage.Source) (*storage.Columns, error) {
	total := 0
	for _, src := range srcs {
		total += src.NumRows()
	}
	out := storage.NewColumns(schema, total)
	var (
		i64  []int64
		f64  []float64
		bs   []bool
		ids  []uint32
		strs []string
	)
	for _, src := range srcs {
		n, base := src.NumRows(), out.Len
		for c, col := range schema.Columns {
			d := &out.Cols[c]
			nulls, err := src.Nulls(c)
			if err != nil {
				return nil, fmt.Errorf("read %s: column %s: %w", src.Name(), col.Name, err)
			}
			switch col.Type {
			case storage.TypeTimestamp, storage.TypeInt64:
				if i64, err = src.ReadInt64(c, 0, n, i64); err == nil {
					d.Int64 = append(d.Int64, i64...)
				}
			case storage.TypeFloat64:
				if f64, err = src.ReadFloat64(c, 0, n, f64); err == nil {
					d.Float64 = append(d.Float64, f64...)
				}
			case storage.TypeBool:
				if bs, err = src.ReadBool(c, 0, n, bs); err == nil {
					d.Bool = append(d.Bool, bs...)
				}
			case storage.TypeString:
				var dict storage.Dict
				if dict, err = src.Dict(c); err != nil {
					break
				}
				// Decode the dictionary once, so the row loop only indexes a slice.
				strs = strs[:0]
				for id := range dict.Len() {
					strs = append(strs, dict.Value(uint32(id)))
				}
				if ids, err = src.ReadDictIDs(c, 0, n, ids); err != nil {
					break
				}
				for r, id := range ids {
					if int(id) < len(strs) {
						d.String = append(d.String, strs[id])
						continue
					}
					// A NULL row's id is unspecified; its slot holds the zero value.
					if nulls == nil || !nulls.Contains(uint32(r)) {
						return nil, fmt.Errorf("read %s: column %s: row %d has dictionary id %d of %d: %w",
							src.Name(), col.Name, r, id, len(strs), storage.ErrCorrupt)
					}
					d.String = append(d.String, "")
				}
			default:
				panic(fmt.Sprintf("BUG: column %q has type %s in a valid schema", col.Name, col.Type))
			}
			if err != nil {
				return nil, fmt.Errorf("read %s: column %s: %w", src.Name(), col.Name, err)
			}
			if nulls == nil || nulls.IsEmpty() {
				continue
			}
			if len(d.Null) < base+n {
				d.Null = append(d.Null, make([]bool, base+n-len(d.Null))...)
			}
			it := nulls.Iterator()
			for it.HasNext() {
				r := int(it.Next())
				if r >= n {
					return nil, fmt.Errorf("read %s: column %s: NULL bitmap names row %d of %d: %w", src.Name(), col.Name, r, n, storage.ErrCorrupt)
				}
				d.Null[base+r] = true
				if col.Type == storage.TypeString {
					d.String[base+r] = ""
				}
			}
		}
		out.Len += n
	}
	return out, nil
}
