package sql

import (
	"strings"
	"testing"
)

// TestCreateIndexNotice: CREATE INDEX answers with the tag PostgreSQL sends and a
// NOTICE saying that nothing was created, and the table stays as it was.
func TestCreateIndexNotice(t *testing.T) {
	s, st := newTestSession(t)
	mustExec(t, s, "CREATE TABLE ev (ts timestamptz NOT NULL, user_id text)")
	before, _ := st.Table("ev")
	for _, q := range []string{"CREATE INDEX ev_user ON ev (user_id)", "CREATE INDEX ON ev USING btree (ts DESC)"} {
		res := mustExec(t, s, q)
		if res.Tag != "CREATE INDEX" || len(res.Notices) != 1 || !strings.Contains(res.Notices[0], "was not created") {
			t.Errorf("%s: tag %q, notices %q", q, res.Tag, res.Notices)
		}
	}
	if after, _ := st.Table("ev"); after.Schema.String() != before.Schema.String() || len(after.Options) != len(before.Options) {
		t.Errorf("CREATE INDEX changed the table: %v %v, was %v %v", after.Schema.String(), after.Options, before.Schema.String(), before.Options)
	}
}
