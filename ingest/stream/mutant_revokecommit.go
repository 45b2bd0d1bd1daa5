//go:build strata_mutant_revokecommit

package stream

// The mutant "a revoked partition's group offset is never committed", built only
// with -tags strata_mutant_revokecommit (cmd/strata's
// TestTwoProcessKillsCatchMutantRevoke): Revoked persists the head but commits
// nothing, so the partition's next owner starts at an older group offset and
// reads again rows this live process already published.

func init() { skipRevokeCommit = true }
