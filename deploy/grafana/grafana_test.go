// Package grafana holds strata's ready Grafana setup (provisioning/ and dashboards/)
// and the test that runs every panel's and alert rule's SQL against strata after
// the macro expansion and variable interpolation Grafana performs.
package grafana

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stratadb/strata/bench"
	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/ingest/kafka/kafkatest"
	"github.com/stratadb/strata/ingest/stream"
	"github.com/stratadb/strata/sql"
	"github.com/stratadb/strata/storage"
	"github.com/stratadb/strata/storage/store"
)

// ---- Grafana's macro engine (pkg/tsdb/grafana-postgresql-datasource/macros.go) ----

var macroRE = regexp.MustCompile(`\$([_a-zA-Z0-9]+)\(([^\)]*)\)`)

// formatInterval is gtime.FormatInterval: the largest whole unit.
func formatInterval(d time.Duration) string {
	switch {
	case d >= 24*time.Hour && d%(24*time.Hour) == 0:
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	case d >= time.Hour && d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d >= time.Minute && d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	case d >= time.Second && d%time.Second == 0:
		return fmt.Sprintf("%ds", d/time.Second)
	}
	return fmt.Sprintf("%dms", d/time.Millisecond)
}

// parseInterval reads Grafana interval strings ('5m', '1h', '1d', '20ms').
func parseInterval(s string) (time.Duration, error) {
	s = strings.Trim(strings.TrimSpace(s), "'")
	if strings.HasSuffix(s, "d") {
		n, err := strconv.Atoi(strings.TrimSuffix(s, "d"))
		return time.Duration(n) * 24 * time.Hour, err
	}
	return time.ParseDuration(s)
}

// expand applies Grafana's macro expansion to sql for the range [from, to] and the
// panel interval.
func expand(q string, from, to time.Time, interval time.Duration) (string, error) {
	q = strings.ReplaceAll(q, "$__interval_ms", strconv.FormatInt(interval.Milliseconds(), 10))
	q = strings.ReplaceAll(q, "$__interval", formatInterval(interval))
	q = strings.ReplaceAll(q, "$__unixEpochFrom()", strconv.FormatInt(from.Unix(), 10))
	q = strings.ReplaceAll(q, "$__unixEpochTo()", strconv.FormatInt(to.Unix(), 10))
	ts := func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
	var firstErr error
	out := macroRE.ReplaceAllStringFunc(q, func(m string) string {
		sub := macroRE.FindStringSubmatch(m)
		name, args := sub[1], strings.Split(sub[2], ",")
		for i := range args {
			args[i] = strings.TrimSpace(args[i])
		}
		switch name {
		case "__time":
			return args[0] + ` AS "time"`
		case "__timeEpoch":
			return "extract(epoch from " + args[0] + `) as "time"`
		case "__timeFilter":
			return fmt.Sprintf("%s BETWEEN '%s' AND '%s'", args[0], ts(from), ts(to))
		case "__timeFrom":
			return "'" + ts(from) + "'"
		case "__timeTo":
			return "'" + ts(to) + "'"
		case "__timeGroup", "__timeGroupAlias":
			d, err := parseInterval(args[1])
			if err != nil && firstErr == nil {
				firstErr = err
			}
			secs := fmt.Sprintf("%v", d.Seconds())
			g := fmt.Sprintf("floor(extract(epoch from %s)/%s)*%s", args[0], secs, secs)
			if name == "__timeGroupAlias" {
				g += ` AS "time"`
			}
			return g
		case "__unixEpochFilter":
			return fmt.Sprintf("%s >= %d AND %s <= %d", args[0], from.Unix(), args[0], to.Unix())
		}
		if firstErr == nil {
			firstErr = fmt.Errorf("unknown macro %q", name)
		}
		return m
	})
	return out, firstErr
}

// interpolate substitutes a multi-value variable the way Grafana's frontend does:
// each value single-quoted with embedded quotes doubled, joined by commas.
func interpolate(q, name string, values []string) string {
	quoted := make([]string, len(values))
	for i, v := range values {
		quoted[i] = "'" + strings.ReplaceAll(v, "'", "''") + "'"
	}
	return strings.ReplaceAll(q, "$"+name, strings.Join(quoted, ","))
}

// ---- strata under test ----

type dashboard struct {
	Panels []struct {
		ID      int    `json:"id"`
		Title   string `json:"title"`
		Type    string `json:"type"`
		Targets []struct {
			RefID  string `json:"refId"`
			RawSQL string `json:"rawSql"`
			Format string `json:"format"`
		} `json:"targets"`
	} `json:"panels"`
	Templating struct {
		List []struct {
			Name  string `json:"name"`
			Query string `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

func run(t *testing.T, s *sql.Session, q string) ([]engine.Field, [][]string) {
	t.Helper()
	ctx := context.Background()
	st, err := s.Prepare(ctx, q, nil)
	if err != nil {
		t.Fatalf("%v\n%s", err, q)
	}
	res, err := s.Execute(ctx, st, nil)
	if err != nil {
		t.Fatalf("%v\n%s", err, q)
	}
	if res.Rows == nil {
		return nil, nil
	}
	defer res.Rows.Close()
	var rows [][]string
	for {
		rec, err := res.Rows.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%v\n%s", err, q)
		}
		for i := 0; i < int(rec.NumRows()); i++ {
			row := make([]string, rec.NumCols())
			for j := range row {
				if rec.Column(j).IsNull(i) {
					row[j] = "NULL"
				} else {
					row[j] = string(engine.AppendText(nil, rec.Column(j), i, res.Fields[j].Type))
				}
			}
			rows = append(rows, row)
		}
		rec.Release()
	}
	return res.Fields, rows
}

// createGrafanaRole runs grafana-role.sql as the superuser, with psql's
// substitution of :'grafana_password'.
func createGrafanaRole(t *testing.T, admin *sql.Session) {
	t.Helper()
	script, err := os.ReadFile("grafana-role.sql")
	if err != nil {
		t.Fatal(err)
	}
	stmts, err := sql.Split(strings.ReplaceAll(string(script), ":'grafana_password'", "'grafana-test-password'"))
	if err != nil || len(stmts) == 0 {
		t.Fatalf("grafana-role.sql: %v", err)
	}
	for _, q := range stmts {
		run(t, admin, q)
	}
}

// TestGrafanaRoleIsReadOnly checks what grafana-role.sql promises: the role logs
// in with a password kept as a verifier, reads every table (also one created
// after the script ran), and cannot write, alter, drop or read server files.
func TestGrafanaRoleIsReadOnly(t *testing.T) {
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	db := sql.Open(st, sql.Options{})
	admin := db.NewSession("strata", "strata")
	run(t, admin, bench.CreateTableSQL)
	createGrafanaRole(t, admin)
	ra, ok := db.RoleAuth("grafana")
	if !ok || !ra.Login || ra.Superuser || !strings.HasPrefix(ra.Verifier, "SCRAM-SHA-256$") {
		t.Fatalf("grafana role: %+v %v", ra, ok)
	}
	run(t, admin, `CREATE TABLE later (ts timestamptz NOT NULL, x int)`)
	g := db.NewSession("grafana", "strata")
	run(t, g, `SELECT count(*) FROM user_behavior`)
	run(t, g, `SELECT count(*) FROM later`)
	for _, q := range []string{
		`INSERT INTO later VALUES (now(), 1)`,
		`COPY later FROM STDIN`,
		`COPY later FROM '/etc/passwd'`,
		`DROP TABLE later`,
		`OPTIMIZE user_behavior`,
		`CREATE TABLE mine (ts timestamptz NOT NULL)`,
		`CREATE ROLE other`,
		`SELECT rolpassword FROM pg_authid`,
	} {
		ctx := context.Background()
		stmt, err := g.Prepare(ctx, q, nil)
		if err == nil {
			_, err = g.Execute(ctx, stmt, nil)
		}
		var e *engine.Error
		if !errors.As(err, &e) || e.Code != "42501" {
			t.Errorf("%s as grafana: %v, want 42501", q, err)
		}
	}
}

// TestDashboardAndAlerts loads a week of generated events (up to now) into a
// Kafka-fed user_behavior table, then runs every panel target and alert query of
// deploy/grafana after Grafana's expansion, checking that each runs, that
// time-series results have an ascending "time" column, and, for the funnel, the
// category revenue and the alert, that the answers equal sums computed directly
// from the generated events.
func TestDashboardAndAlerts(t *testing.T) {
	addr, _ := kafkatest.Start(t, "user_behavior_topic", 2)
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	m := stream.NewManager(st, stream.Options{Brokers: []string{addr}})
	defer m.Close()
	db := sql.Open(st, sql.Options{Ingest: m})
	admin := db.NewSession("strata", "strata")
	run(t, admin, bench.CreateTableSQL+` WITH (kafka_topic = 'user_behavior_topic')`)
	// Every query below runs as the read-only role the data source uses.
	createGrafanaRole(t, admin)
	s := db.NewSession("grafana", "strata")

	now := time.Now().UTC()
	gen := bench.NewGenerator(5, now.Add(-7*24*time.Hour), now.Add(-time.Second), 2000, 300)
	const n = 100_000
	cols := storage.NewColumns(bench.EventSchema(), n)
	gen.Fill(cols, n)
	if err := st.Append(context.Background(), "user_behavior", cols); err != nil {
		t.Fatal(err)
	}
	// A few live events through Kafka, so the ingest panels have partitions to show;
	// dated outside the panels' 6-hour range, so the checks below need not count them.
	old := bench.NewGenerator(6, now.Add(-7*24*time.Hour), now.Add(-6*24*time.Hour), 100, 100)
	var live []kafkatest.Message
	for i := 0; i < 20; i++ {
		live = append(live, kafkatest.Message{Partition: int32(i % 2), Value: old.AppendJSON(nil)})
	}
	kafkatest.Produce(t, addr, "user_behavior_topic", live)
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, rows := run(t, s, `SELECT count(*) FROM user_behavior`)
		if rows[0][0] == strconv.Itoa(n+len(live)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("live events did not arrive: %v", rows)
		}
		time.Sleep(20 * time.Millisecond)
	}

	raw, err := os.ReadFile("dashboards/ecommerce.json")
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatal(err)
	}
	// The variable's values, from its own query (All selected).
	var categories []string
	for _, v := range d.Templating.List {
		_, rows := run(t, s, v.Query)
		for _, r := range rows {
			categories = append(categories, r[0])
		}
	}
	if len(categories) < 5 {
		t.Fatalf("category variable has %d values", len(categories))
	}
	from, to := now.Add(-6*time.Hour).Truncate(time.Millisecond), now.Truncate(time.Millisecond)
	interval := 20 * time.Second
	results := map[int][][]string{}
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			q, err := expand(interpolate(tg.RawSQL, "category", categories), from, to, interval)
			if err != nil {
				t.Fatalf("panel %q: %v", p.Title, err)
			}
			fields, rows := run(t, s, q)
			if len(rows) == 0 {
				t.Errorf("panel %q returned no rows:\n%s", p.Title, q)
			}
			if tg.Format == "time_series" {
				if fields[0].Name != "time" {
					t.Errorf("panel %q: first column %q, want time", p.Title, fields[0].Name)
				}
				for i := 1; i < len(rows); i++ {
					// epoch seconds from $__timeGroupAlias, or timestamps (which sort as text)
					a, errA := strconv.ParseFloat(rows[i-1][0], 64)
					b, errB := strconv.ParseFloat(rows[i][0], 64)
					descending := rows[i][0] < rows[i-1][0]
					if errA == nil && errB == nil {
						descending = b < a
					}
					if descending {
						t.Errorf("panel %q: time not ascending at row %d", p.Title, i)
						break
					}
				}
			}
			results[p.ID] = rows
		}
	}

	// Independent sums over the generated events in [from, to].
	in := func(i int) bool {
		ts := cols.Cols[bench.ColTimestamp].Int64[i]
		return ts >= from.UnixMicro() && ts <= to.UnixMicro()
	}
	funnel := map[string]int{}
	revenue := map[string]float64{}
	for i := 0; i < n; i++ {
		if !in(i) {
			continue
		}
		ev := cols.Cols[bench.ColEvent].String[i]
		funnel[ev]++
		price := cols.Cols[bench.ColPrice].Float64[i]
		if ev == "purchase" && price > 0 && !cols.IsNull(bench.ColQuantity, i) {
			revenue[cols.Cols[bench.ColCategory].String[i]] += price * float64(cols.Cols[bench.ColQuantity].Int64[i])
		}
	}
	wantFunnel := []string{strconv.Itoa(funnel["view"]), strconv.Itoa(funnel["click"]), strconv.Itoa(funnel["cart"]), strconv.Itoa(funnel["purchase"])}
	if got := results[7]; len(got) != 1 || !slices.Equal(got[0], wantFunnel) {
		t.Errorf("funnel = %v, want %v", got, wantFunnel)
	}
	for _, r := range results[9] {
		got, _ := strconv.ParseFloat(r[1], 64)
		if want := revenue[r[0]]; math.Abs(got-want) > 1e-6*math.Max(1, want) {
			t.Errorf("revenue of %s = %v, want %v", r[0], got, want)
		}
	}
	if len(results[9]) != len(revenue) {
		t.Errorf("revenue by category has %d rows, want %d", len(results[9]), len(revenue))
	}

	// Alert rules: the queries run and give a share in [0, 1].
	alerts, err := os.ReadFile("provisioning/alerting/anomalies.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range alertQueries(string(alerts)) {
		_, rows := run(t, s, q)
		v, err := strconv.ParseFloat(rows[0][0], 64)
		if len(rows) != 1 || err != nil || v < 0 || v > 1 {
			t.Errorf("alert query gave %v:\n%s", rows, q)
		}
	}
}

// alertQueries extracts the rawSql blocks (YAML literal blocks "rawSql: |-") of the
// alert provisioning file.
func alertQueries(yaml string) []string {
	var out []string
	lines := strings.Split(yaml, "\n")
	for i := 0; i < len(lines); i++ {
		if !strings.HasSuffix(strings.TrimSpace(lines[i]), "rawSql: |-") {
			continue
		}
		indent := -1
		var q []string
		for i++; i < len(lines); i++ {
			l := lines[i]
			trimmed := strings.TrimLeft(l, " ")
			if trimmed == "" {
				break
			}
			if indent < 0 {
				indent = len(l) - len(trimmed)
			}
			if len(l)-len(trimmed) < indent {
				break
			}
			q = append(q, l[indent:])
		}
		i--
		out = append(out, strings.Join(q, "\n"))
	}
	return out
}

func TestAlertQueriesFound(t *testing.T) {
	alerts, err := os.ReadFile("provisioning/alerting/anomalies.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(alertQueries(string(alerts))); n != 2 {
		t.Fatalf("found %d alert queries, want 2", n)
	}
}

func TestExpandMatchesGrafana(t *testing.T) {
	from := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	to := time.Date(2024, 6, 1, 6, 0, 0, 0, time.UTC)
	for _, c := range []struct{ in, want string }{
		// Expected strings from pkg/tsdb/grafana-postgresql-datasource/macros_test.go
		// as quoted in shared/reference/pg-clients.md.
		{`$__timeFilter(ts)`, `ts BETWEEN '2024-06-01T00:00:00Z' AND '2024-06-01T06:00:00Z'`},
		{`$__timeGroup(ts,'5m')`, `floor(extract(epoch from ts)/300)*300`},
		{`$__timeGroupAlias(ts,'1d')`, `floor(extract(epoch from ts)/86400)*86400 AS "time"`},
		{`$__timeGroup(ts,'30d')`, `floor(extract(epoch from ts)/2.592e+06)*2.592e+06`},
		{`$__timeGroupAlias(ts,$__interval)`, `floor(extract(epoch from ts)/20)*20 AS "time"`},
		{`$__unixEpochFilter(c)`, `c >= 1717200000 AND c <= 1717221600`},
	} {
		got, err := expand(c.in, from, to, 20*time.Second)
		if err != nil || got != c.want {
			t.Errorf("expand(%s) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}
