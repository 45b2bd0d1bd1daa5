package ingest

func (d *decoder) runCSV() error { return nil }
