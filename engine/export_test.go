package engine

// SetFastPaths turns the specialized execution paths on or off, for A/B benchmarks
// (BenchmarkSuite with STRATA_FAST_PATHS=0) from the external test package.
func SetFastPaths(on bool) { fastPaths = on }
