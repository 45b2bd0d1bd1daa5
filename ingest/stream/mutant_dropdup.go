//go:build strata_mutant_dropdup

package stream

import (
	"encoding/json"
	"sync"

	"github.com/stratadb/strata/ingest/kafka"
)

// The mutant "a consumer that drops one event and duplicates another of the same
// user", built only with -tags strata_mutant_dropdup (cmd/strata's
// TestExactlyOnceCatchesMutantConsumer): once per process, in the first batch
// that has two events of one user, the later event is replaced by a copy of the
// earlier one. Totals and per-user counts stay right; the ids do not.

var mutantOnce struct {
	sync.Mutex
	done bool
}

func init() {
	mutateRecords = func(recs []kafka.Record) {
		mutantOnce.Lock()
		defer mutantOnce.Unlock()
		if mutantOnce.done {
			return
		}
		first := map[string]int{}
		for j := range recs {
			var ev struct {
				UserID string `json:"user_id"`
			}
			if json.Unmarshal(recs[j].Value, &ev) != nil || ev.UserID == "" {
				continue
			}
			if i, ok := first[ev.UserID]; ok {
				recs[j].Value = recs[i].Value
				mutantOnce.done = true
				return
			}
			first[ev.UserID] = j
		}
	}
}
