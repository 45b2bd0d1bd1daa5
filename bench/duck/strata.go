//go:build !nostrata

package main

import (
	"context"

	"github.com/stratadb/strata/bench/inproc"
)

func openStrata(dir string) (strataEngine, error) { return inproc.Open(dir) }

func openColdStrata(dir string) (coldEngine, error) {
	s, err := inproc.Open(dir)
	if err != nil {
		return nil, err
	}
	return coldStrata{s}, nil
}

// coldStrata adapts inproc.Strata to coldEngine.
type coldStrata struct{ *inproc.Strata }

func (c coldStrata) Handoff(ctx context.Context, rows int64) (handoffInfo, error) {
	st, err := c.HandoffAll(ctx, rows)
	return handoffInfo{rows: st.Rows, files: st.Files, bytes: st.Bytes, dur: st.Duration}, err
}
