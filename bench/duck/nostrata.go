//go:build nostrata

package main

import "errors"

func openStrata(dir string) (strataEngine, error) {
	return nil, errors.New("built with the nostrata tag: run with -strata=false")
}
