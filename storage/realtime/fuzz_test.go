package realtime

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

// FuzzHead drives a head with a sequence of appends, Freezes and Drops taken from the
// input and checks every Snapshot, and at the end every earlier Snapshot, against the
// model.
func FuzzHead(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 0, 10, 1, 2, 0, 3})
	f.Add([]byte{9, 9, 9, 9, 9, 9, 9, 9, 1, 1, 1, 2, 1, 2, 3, 3, 0})
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 2, 3, 0, 2, 2, 3, 3, 1})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		var seed [8]byte
		copy(seed[:], data)
		if len(data) > 8 {
			data = data[8:]
		} else {
			data = nil
		}
		if len(data) > 40 {
			data = data[:40]
		}
		rng := rand.New(rand.NewPCG(binary.LittleEndian.Uint64(seed[:]), 1))
		schema := testSchema()
		h := NewHead(schema, hour)
		m := newModel(hour)
		type pending struct {
			f *Frozen
			m []*mpart
		}
		var frozen []pending
		type taken struct {
			views []*View
			want  []mpart
		}
		var kept []taken
		for _, op := range data {
			switch op % 4 {
			case 0, 1:
				rows := genRows(rng, genOpts{
					n: 1 + int(op/4)%40, base: t0 - hour + rng.Int64N(2*hour), spread: 1 + rng.Int64N(2*hour),
					ordered: op%8 == 0, nullProb: 0.3, extreme: op%16 == 1,
				})
				if err := h.Append(toColumns(schema, rows)); err != nil {
					t.Fatal(err)
				}
				m.append(rows, schema.TimeColumn)
			case 2:
				fz := h.Freeze()
				mf := m.freeze()
				checkFrozen(t, fz, mf)
				frozen = append(frozen, pending{fz, mf})
			case 3:
				if len(frozen) > 0 {
					k := int(op/4) % len(frozen)
					h.Drop(frozen[k].f)
					m.drop(frozen[k].m)
					frozen = append(frozen[:k], frozen[k+1:]...)
				}
			}
			views, want := h.Snapshot(), m.snapshot()
			checkSnapshot(t, schema, views, want, hour)
			kept = append(kept, taken{views, want})
			if h.Rows() != m.rows() {
				t.Fatalf("Rows %d, want %d", h.Rows(), m.rows())
			}
		}
		for _, k := range kept {
			checkSnapshot(t, schema, k.views, k.want, hour)
		}
	})
}
