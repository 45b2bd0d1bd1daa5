package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
)

// startProfile starts a CPU profile of the timed wire runs of query name into
// dir/name.cpu.pprof and writes the heap profile before them to dir/name.base.heap;
// stop ends the CPU profile and writes dir/name.heap after them. The server runs in
// this process, so the profiles hold strata's side and the client's decoding;
// `go tool pprof -sample_index=alloc_space -diff_base name.base.heap name.heap`
// shows what the runs allocated. With dir "" it does nothing.
func startProfile(dir, name string) (stop func() error, err error) {
	if dir == "" {
		return func() error { return nil }, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if err := writeHeap(filepath.Join(dir, name+".base.heap")); err != nil {
		return nil, err
	}
	f, err := os.Create(filepath.Join(dir, name+".cpu.pprof"))
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() error {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			return err
		}
		return writeHeap(filepath.Join(dir, name+".heap"))
	}, nil
}

func writeHeap(path string) error {
	runtime.GC() // the profile is as of the last GC
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		f.Close()
		return fmt.Errorf("heap profile %s: %w", path, err)
	}
	return f.Close()
}
