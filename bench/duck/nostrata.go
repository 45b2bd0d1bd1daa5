//go:build nostrata

package main

import (
	"context"
	"errors"
)

var errNoStrata = errors.New("built with the nostrata tag: run with -strata=false")

func openStrata(dir string) (strataEngine, error) { return nil, errNoStrata }

func openColdStrata(dir string) (coldEngine, error) { return nil, errNoStrata }

func serveWire(context.Context, strataEngine) (wireEngine, error) { return nil, errNoStrata }
