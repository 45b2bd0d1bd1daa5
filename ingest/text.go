package ingest

func (d *decoder) runText() error { return nil }
