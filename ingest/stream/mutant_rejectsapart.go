//go:build strata_mutant_rejectsapart

package stream

import (
	"os"
	"syscall"
)

// The mutant "rejects are published apart from the rows", built only with -tags
// strata_mutant_rejectsapart (cmd/strata's TestRejectsCatchMutantApart): persist
// commits a table's rejects before its rows and offsets, as strata once did, and
// the first time it has published rejects that way, the process SIGKILLs itself
// before the rows follow, leaving the file STRATA_MUTANT_MARK so that it does so
// only once. After the restart the same records are consumed, and rejected,
// again.

func init() {
	rejectsApart = func(rejects int) {
		mark := os.Getenv("STRATA_MUTANT_MARK")
		if rejects == 0 || mark == "" {
			return
		}
		if _, err := os.Stat(mark); err == nil {
			return
		}
		if err := os.WriteFile(mark, nil, 0o600); err != nil {
			return
		}
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal ends the process
	}
}
