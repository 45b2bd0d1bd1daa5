package ingest

func (d *decoder) runJSON() error { return nil }
