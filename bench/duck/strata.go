//go:build !nostrata

package main

import "github.com/stratadb/strata/bench/inproc"

func openStrata(dir string) (strataEngine, error) { return inproc.Open(dir) }
