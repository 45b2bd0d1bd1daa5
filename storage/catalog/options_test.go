package catalog

import (
	"strings"
	"testing"
)

// TestTableOptionsDeclared: names are unique lower-case identifiers, each option
// says its default and what it does, an enum lists its values.
func TestTableOptionsDeclared(t *testing.T) {
	seen := map[string]bool{}
	for _, o := range TableOptions {
		if seen[o.Name] || o.Name != strings.ToLower(o.Name) || strings.ContainsAny(o.Name, " -") {
			t.Errorf("option %q: duplicate or not a lower-case identifier", o.Name)
		}
		seen[o.Name] = true
		if o.Doc == "" || o.Default == "" || (o.Kind == OptEnum) != (len(o.Values) > 0) {
			t.Errorf("option %q: incomplete declaration %+v", o.Name, o)
		}
	}
}

func TestCheckOption(t *testing.T) {
	for _, tc := range []struct {
		name, value string
		ok          bool
	}{
		{"kafka_topic", "events", true},
		{"kafka_topc", "events", false},
		{"persist_rows", "10", true},
		{"persist_rows", "0", false},
		{"persist_interval", "5 minutes", true},
		{"persist_interval", "0", false},
		{"handoff_grace", "0", true},
		{"handoff_grace", "-1s", false},
		{"kafka_tls", "on", true},
		{"kafka_tls", "sometimes", false},
		{"kafka_start", "LATEST", true},
		{"kafka_start", "middle", false},
		{"time_column", "", false},
		{"external", "true", false},
	} {
		err := CheckOption(tc.name, tc.value)
		if (err == nil) != tc.ok || err != nil && !strings.Contains(err.Error(), `"`+tc.name+`"`) {
			t.Errorf("CheckOption(%q, %q) = %v, want ok %v and the option named", tc.name, tc.value, err, tc.ok)
		}
	}
}
