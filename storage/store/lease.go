package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/stratadb/strata/storage/lake"
)

// The OPTIMIZE lease (issue 13 part 2): of the nodes that hand off to one Delta
// table, one at a time runs the background OPTIMIZE. The lease is a txn action
// committed to the table's own log, alone in its commit:
//
//	txn(appId = strata/<table>/optimize-lease, version = expiry in Unix milliseconds)
//
// A node takes it when the newest version's lease has expired (or is the one this
// store took last, a renewal), by committing the next version with a later expiry.
// The log's put-if-absent decides between two nodes that both read an expired
// lease: the commit of the one that loses the race for a version meets the
// winner's txn for the same appId and fails (lake.ErrConflict or
// lake.ErrTxnAlreadyCommitted); a handoff that wins the version instead is
// passed over, as for any commit. The holder then runs OPTIMIZE with a deadline
// a margin before the expiry (OptimizeLeaseMargin, or a quarter of a shorter
// lease), so its commit cannot land after another node took an expired lease,
// as long as the nodes' clocks agree within the margin. A lease is never
// released: it expires (a crash of its holder delays the next OPTIMIZE by at
// most the lease's length).

// OptimizeLeaseMargin is how long before its lease's expiry an OPTIMIZE is
// cut off: the clock difference between nodes the lease tolerates.
const OptimizeLeaseMargin = 30 * time.Second

func leaseMargin(lease time.Duration) time.Duration { return min(OptimizeLeaseMargin, lease/4) }

// OptimizeLeaseApp is the txn appId of table's OPTIMIZE lease.
func OptimizeLeaseApp(table string) string { return "strata/" + table + "/optimize-lease" }

// ErrLeaseHeld is returned by OptimizeUnderLease when another node holds the
// table's OPTIMIZE lease, or took it first.
var ErrLeaseHeld = errors.New("the OPTIMIZE lease is held by another node")

// OptimizeUnderLease takes table's OPTIMIZE lease in its Delta log for lease
// and runs OPTIMIZE (targetFileSize, sortBy as for Optimize) under it. It
// returns ErrLeaseHeld, having changed nothing, when another node holds the
// lease or wins it.
func (s *Store) OptimizeUnderLease(ctx context.Context, table string, lease time.Duration, targetFileSize int64, sortBy string) (lake.OptimizeResult, error) {
	res := lake.OptimizeResult{Version: -1}
	if lease <= 0 {
		return res, fmt.Errorf("optimize %s: a lease of %v", table, lease)
	}
	s.compactMu.Lock()
	defer s.compactMu.Unlock()
	def, l, err := s.lakeFor(ctx, table)
	if err != nil {
		return res, err
	}
	if IsExternal(&def) {
		return res, fmt.Errorf("table %s is external: strata does not write it", table)
	}
	snap, err := l.tbl.Snapshot(ctx)
	if err != nil {
		return res, fmt.Errorf("optimize %s: read the lease: %w", table, err)
	}
	app := OptimizeLeaseApp(def.Name)
	now := time.Now()
	have, held := snap.TxnVersion(app)
	s.leaseMu.Lock()
	mine := s.leases[app]
	s.leaseMu.Unlock()
	if held && have > now.UnixMilli() && have != mine {
		return res, fmt.Errorf("optimize %s: %w until %s", table, ErrLeaseHeld, time.UnixMilli(have).UTC().Format(time.RFC3339))
	}
	expiry := now.Add(lease).UnixMilli()
	if held && expiry <= have {
		expiry = have + 1
	}
	if _, err := lake.Commit(ctx, l.tbl, snap.Version, []lake.Action{{Txn: &lake.Txn{AppID: app, Version: expiry}}},
		"STRATA OPTIMIZE LEASE", map[string]any{"appId": app, "expiry": time.UnixMilli(expiry).UTC().Format(time.RFC3339Nano)}); err != nil {
		if errors.Is(err, lake.ErrConflict) || errors.Is(err, lake.ErrTxnAlreadyCommitted) {
			return res, fmt.Errorf("optimize %s: %w (%v)", table, ErrLeaseHeld, err)
		}
		return res, fmt.Errorf("optimize %s: take the lease: %w", table, err)
	}
	s.leaseMu.Lock()
	if s.leases == nil {
		s.leases = map[string]int64{}
	}
	s.leases[app] = expiry
	s.leaseMu.Unlock()
	octx, cancel := context.WithDeadline(ctx, time.UnixMilli(expiry).Add(-leaseMargin(lease)))
	defer cancel()
	if s.knobs.UnderLease != nil {
		if err := s.knobs.UnderLease(); err != nil {
			return res, err
		}
	}
	return s.optimizeLocked(octx, def, l, targetFileSize, sortBy)
}
