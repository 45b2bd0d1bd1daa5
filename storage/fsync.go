package storage

import "os"

// SyncDir fsyncs the directory dir, so that a name just created, linked or
// renamed in it survives a crash. Every writer of files calls it after publishing
// a name (segments, lake files, cache entries, object-store keys).
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
