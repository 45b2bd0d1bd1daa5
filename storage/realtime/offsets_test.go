package realtime

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestSnapshotFrom checks the rows at or past an offset (SnapshotFrom) against
// the model: per part, the suffix of its rows whose offset (kept in column
// bytes) is at least o, with every Source method answering for those rows alone
// (statistics, time range, bitmaps renumbered from 0); and DropBefore, which
// removes the parts wholly below o and seals those that straddle it.
func TestSnapshotFrom(t *testing.T) {
	for seed := range 6 {
		rng := rand.New(rand.NewPCG(uint64(seed), 11))
		schema := testSchema()
		tc := schema.TimeColumn
		h := NewHead(schema, hour)
		m := newModel(hour)
		next := int64(100)
		type taken struct {
			views []*View
			want  []mpart
			o     int64
		}
		var early []taken
		for b := range 10 {
			rows := genRows(rng, genOpts{n: 1 + rng.IntN(600), base: t0 + int64(b)*hour/3, spread: 2 * hour,
				ordered: b%2 == 0, nullProb: 0.2, extreme: b == 3})
			offs := make([]int64, len(rows))
			for i := range rows {
				next += 1 + rng.Int64N(3)
				offs[i] = next
				rows[i][2] = cell{i: next} // the offset, readable from the row
			}
			if err := h.AppendAt(toColumns(schema, rows), offs); err != nil {
				t.Fatal(err)
			}
			m.append(rows, tc)
			for range 3 {
				o := 90 + rng.Int64N(next-80)
				checkFrom(t, h.SnapshotFrom(o), m.snapshot(), o)
				early = append(early, taken{h.SnapshotFrom(o), m.snapshot(), o})
			}
			checkFrom(t, h.SnapshotFrom(math.MinInt64), m.snapshot(), math.MinInt64)
			if b%4 == 3 {
				o := 90 + rng.Int64N(next-80)
				removed := h.DropBefore(o)
				want := 0
				for s, ps := range m.chunks {
					kept := ps[:0]
					for _, p := range ps {
						if len(p.rows) > 0 && p.rows[len(p.rows)-1][2].i < o {
							want += len(p.rows)
							continue
						}
						if !p.frozen && len(p.rows) > 0 && p.rows[0][2].i < o {
							p.frozen = true
						}
						kept = append(kept, p)
					}
					if len(kept) == 0 {
						delete(m.chunks, s)
					} else {
						m.chunks[s] = kept
					}
				}
				if removed != want || h.Rows() != m.rows() {
					t.Fatalf("DropBefore(%d) removed %d rows, left %d; want %d and %d", o, removed, h.Rows(), want, m.rows())
				}
				checkFrom(t, h.SnapshotFrom(math.MinInt64), m.snapshot(), math.MinInt64)
				checkFrom(t, h.SnapshotFrom(o), m.snapshot(), o)
			}
		}
		// Views taken early build their bitmaps only now, after later appends.
		for _, e := range early {
			checkFrom(t, e.views, e.want, e.o)
		}
		if err := h.AppendAt(toColumns(schema, genRows(rng, genOpts{n: 2, base: t0, spread: hour})), []int64{next + 5, next + 5}); err == nil {
			t.Fatal("AppendAt with a repeated offset: no error")
		}
		if err := h.AppendAt(toColumns(schema, genRows(rng, genOpts{n: 1, base: t0, spread: hour})), []int64{next}); err == nil {
			t.Fatal("AppendAt with an offset already appended: no error")
		}
	}
}

// checkFrom checks views, a SnapshotFrom(o), against the model's parts cut to
// their rows with offsets (column 2) at or past o.
func checkFrom(t *testing.T, views []*View, parts []mpart, o int64) {
	t.Helper()
	var want []mpart
	for _, p := range parts {
		k := 0
		for k < len(p.rows) && p.rows[k][2].i < o {
			k++
		}
		if k < len(p.rows) {
			want = append(want, mpart{start: p.start, rows: p.rows[k:]})
		}
	}
	checkSnapshot(t, testSchema(), views, want, hour)
}
