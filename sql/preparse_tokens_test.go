package sql

import "testing"

// TestAlterIngestTokens checks the scanner-token recognition of ALTER TABLE …
// PAUSE|RESUME INGEST: names as PostgreSQL reads them, comments and case
// ignored, anything more or less is not this statement.
func TestAlterIngestTokens(t *testing.T) {
	for _, tc := range []struct {
		query string
		name  string
		pause bool
		ok    bool
	}{
		{"ALTER TABLE ev PAUSE INGEST", "ev", true, true},
		{"alter table EV resume ingest;", "ev", false, true},
		{"ALTER TABLE ONLY public.ev PAUSE INGEST", "ev", true, true},
		{`ALTER TABLE "Ev ""x""" RESUME INGEST`, `Ev "x"`, false, true},
		{"ALTER TABLE /* c */ ev -- c\n PAUSE INGEST", "ev", true, true},
		{"ALTER TABLE only PAUSE INGEST", "", false, false}, // ONLY is reserved: PostgreSQL needs "only"
		{"ALTER TABLE ev PAUSE INGEST; DROP TABLE ev", "", false, false},
		{"ALTER TABLE other.ev PAUSE INGEST", "", false, false},
		{"ALTER TABLE ev PAUSE", "", false, false},
		{"ALTER TABLE ev STOP INGEST", "", false, false},
		{"SELECT 'ALTER TABLE ev PAUSE INGEST'", "", false, false},
		{"ALTER TABLE 'ev' PAUSE INGEST", "", false, false},
		{"ALTER TABLE ev PAUSE INGEST '", "", false, false},
	} {
		name, pause, ok := alterIngest(tc.query)
		if name != tc.name || pause != tc.pause || ok != tc.ok {
			t.Errorf("%q: got (%q, %v, %v), want (%q, %v, %v)", tc.query, name, pause, ok, tc.name, tc.pause, tc.ok)
		}
	}
}

// TestCopyFormatJSONTokens checks that only a COPY's FORMAT json option is
// rewritten, never the same words inside a string or another statement.
func TestCopyFormatJSONTokens(t *testing.T) {
	for _, tc := range []struct{ query, want string }{
		{"COPY ev FROM STDIN (FORMAT json)", "COPY ev FROM STDIN (FORMAT 'json')"},
		{"copy ev from stdin (format JSON, header false)", "copy ev from stdin (format 'json', header false)"},
		{"COPY ev FROM '/data/format json' (FORMAT csv)", ""},
		{"SELECT 1 AS format, 2 AS json", ""},
		{"COPY ev FROM STDIN (FORMAT 'json')", ""},
	} {
		got, ok := copyFormatJSON(tc.query)
		if ok != (tc.want != "") || got != tc.want {
			t.Errorf("%q: got (%q, %v), want %q", tc.query, got, ok, tc.want)
		}
	}
}
