package catalog

import (
	"encoding/json"
	"testing"
)

// FuzzLoad feeds arbitrary records to the decoder Open runs over the pebble
// contents: it must return an error or a consistent state, never panic.
func FuzzLoad(f *testing.F) {
	def, _ := json.Marshal(TableDef{Name: "t", ID: 1, Schema: testSchema(), Granularity: DefaultGranularity})
	m, _ := json.Marshal(SegmentMeta{ID: SegmentID(1, 0, 1), Table: "t", Seq: 1, Path: "p"})
	f.Add([]byte("t/t"), def, []byte{}, []byte{})
	f.Add([]byte("t/t"), def, segmentKey(1, 0, 1), m)
	f.Add([]byte("t/t"), def, offsetKey(1, "topic/0"), u64(5))
	f.Add([]byte("t/t"), def, seqKey(1), u64(9))
	f.Add([]byte(keyVersion), u64(3), []byte(keyNextTable), u64(2))
	f.Add(segmentKey(2, -5, 1), m, offsetKey(7, "x"), []byte{1})
	f.Add([]byte("t/x"), []byte("{"), []byte("zz"), []byte{})
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 []byte) {
		var l loader
		if err := l.add(k1, v1); err != nil {
			return
		}
		if err := l.add(k2, v2); err != nil {
			return
		}
		st, err := l.finish()
		if err != nil {
			return
		}
		for name, ts := range st.tables {
			if ts.def.Name != name || ts.def.ID >= st.nextTableID || ts.nextSeq == 0 {
				t.Fatalf("inconsistent table %q: %+v, next table id %d", name, ts.def, st.nextTableID)
			}
			for _, m := range ts.segments {
				if m.Seq >= ts.nextSeq {
					t.Fatalf("segment seq %d not below next %d", m.Seq, ts.nextSeq)
				}
			}
		}
	})
}
