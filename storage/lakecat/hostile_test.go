package lakecat

import (
	"context"
	"strings"
	"testing"

	"github.com/stratadb/strata/storage/catalog"
	"github.com/stratadb/strata/storage/lake"
	"github.com/stratadb/strata/storage/objstore"
)

// TestHostileDefinitions: definitions written into the location by someone else
// (bad JSON, a name that is not its folder's, a name with a path separator, a
// lake_path outside the lake roots or over the cluster location, columns that
// disagree with schemaString, an unknown option, a password in clear) are
// refused with an error in the log and never followed, while a good table
// beside them is.
func TestHostileDefinitions(t *testing.T) {
	ctx := context.Background()
	loc := t.TempDir()
	outside := t.TempDir()
	fs := objstore.LocalAt(loc)
	write := func(folder string, mutate func(conf map[string]string, ss *string)) {
		t.Helper()
		def := eventsDef(strings.ReplaceAll(folder, "~2f", "/"))
		conf, ss, parts, err := encodeDef(&def)
		must(t, err)
		mutate(conf, &ss)
		must(t, fs.Put(ctx, namesPrefix+folder, nil))
		dt, err := lake.ParseSchema(ss)
		if err != nil {
			// A schemaString that does not parse: the commit is written by hand.
			must(t, fs.PutIfAbsent(ctx, commitKey(tableRoot(folder), 0), []byte(`{"metaData":{"id":"x","format":{"provider":"parquet"},"schemaString":"`+ss+`","partitionColumns":[],"configuration":{}}}`+"\n")))
			return
		}
		_, err = lake.CreateTable(ctx, fs, tableRoot(folder), dt, parts, conf)
		must(t, err)
	}
	write("othername", func(conf map[string]string, _ *string) { conf[keyName] = "../../etc" })
	write("a~2fb", func(map[string]string, *string) {})
	write("outside", func(conf map[string]string, _ *string) { conf[keyOptPrefix+catalog.OptLakePath] = outside })
	write("overcluster", func(conf map[string]string, _ *string) { conf[keyOptPrefix+catalog.OptLakePath] = loc })
	write("badcolumns", func(conf map[string]string, _ *string) { conf[keyColumns] = `[{"Name": "ts", "Type": 1, "NotNull": tr` })
	write("othercolumns", func(conf map[string]string, _ *string) {
		conf[keyColumns] = strings.Replace(conf[keyColumns], `"user_id"`, `"email"`, 1)
	})
	write("unknownoption", func(conf map[string]string, _ *string) { conf[keyOptPrefix+"run_as"] = "root" })
	write("noformat", func(conf map[string]string, _ *string) { delete(conf, keyFormat) })
	must(t, fs.Put(ctx, namesPrefix+"badjson", nil))
	must(t, fs.PutIfAbsent(ctx, commitKey(tableRoot("badjson"), 0), []byte("{\"metaData\": {not json\n")))

	n := openNode(t, loc, objstore.Options{})
	_, err := n.c.CreateTable(ctx, eventsDef("good"))
	must(t, err)
	n.c.Refresh(ctx)
	for _, name := range []string{"othername", "../../etc", "a/b", "outside", "overcluster", "badcolumns", "othercolumns", "unknownoption", "noformat", "badjson"} {
		if _, ok := n.st.Table(name); ok {
			t.Errorf("table %q was created from a hostile definition", name)
		}
	}
	if _, ok := n.st.Table("good"); !ok {
		t.Fatal("the good table is missing")
	}
	log := n.log.String()
	for _, want := range []string{
		`metaData names table \"../../etc\"`,
		`may not be empty, . or .., nor hold /`,
		`location is outside the lake roots`,
		`overlaps the cluster location`,
		`strata.columns`,
		`does not match columns`,
		`unknown table option \"run_as\"`,
		`strata.format`,
		`badjson`,
	} {
		if !strings.Contains(log, want) {
			t.Errorf("the log does not say %q:\n%s", want, log)
		}
	}

	// A role catalog with a password in clear is refused: no role changes.
	before := n.st.Catalog().Roles()
	meta := *n.c.mu.roles.meta
	meta.Configuration = map[string]string{keyFormat: formatVersion, keyRoles: `{"roles":[{"OID":10,"Name":"strata","Superuser":true,"Login":true,"Password":"hunter2"}]}`}
	_, err = lake.Commit(ctx, lake.OpenTable(fs, rolesRoot), n.c.mu.roles.version, []lake.Action{{Metadata: &meta}}, "SET TBLPROPERTIES", nil)
	must(t, err)
	n.c.Refresh(ctx)
	if r, _ := n.st.Catalog().Role("strata"); r.Password == "hunter2" || len(n.st.Catalog().Roles()) != len(before) {
		t.Fatalf("a role catalog with a password in clear was installed: %+v", r)
	}
	if !strings.Contains(n.log.String(), "not a SCRAM-SHA-256 verifier") {
		t.Fatalf("the log does not say why the roles were refused:\n%s", n.log.String())
	}
}
