package pgwire

import (
	"context"
	dbsql "database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/lib/pq"
)

func TestLibPQ(t *testing.T) {
	ts := startServer(t)
	for _, sslmode := range []string{"disable", "prefer"} {
		t.Run(sslmode, func(t *testing.T) {
			db, err := dbsql.Open("postgres", fmt.Sprintf("host=127.0.0.1 port=%d user=strata dbname=strata sslmode=%s", ts.addr.Port, sslmode))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			ctx := ctxT(t)
			if err := db.PingContext(ctx); err != nil {
				t.Fatal(err)
			}
			// No arguments: simple protocol, text results.
			rows, err := db.QueryContext(ctx, "select * from items")
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for rows.Next() {
				var (
					id                   int64
					small, mid           dbsql.NullInt64
					name                 dbsql.NullString
					price, ratio, amount dbsql.NullFloat64
					ok                   dbsql.NullBool
					day, ts, tstz        dbsql.NullTime
					dur                  dbsql.NullString
				)
				if err := rows.Scan(&id, &small, &mid, &name, &price, &ratio, &amount, &ok, &day, &ts, &tstz, &dur); err != nil {
					t.Fatal(err)
				}
				got = append(got, fmt.Sprintf("%d %v %v %v %v %v %v %v %v %v %v %v", id, small.Int64, mid.Int64, name.String, price.Float64, ratio.Float64,
					amount.Float64, ok.Bool, day.Time.Format(time.DateOnly), ts.Time.UTC().Format(time.StampMicro), tstz.Time.UTC().Format(time.RFC3339Nano), dur.String))
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			want := []string{
				"1 -2 300000 alpha 1.5 0.25 123.45 true 2024-06-01 Jun  1 05:45:25.511126 2024-06-01T05:45:25.511126Z 1 year 2 mons 3 days 04:05:06.789",
				"2 32767 -2147483648 βeta -0.1 1e+06 -0.001 false 1999-12-31 Jan  1 00:00:00.000000 2000-01-01T00:00:00Z -1 days",
				"3 0 0  0 0 0 false 0001-01-01 Jan  1 00:00:00.000000 0001-01-01T00:00:00Z ",
				"9223372036854775807 0 0 alpha 1e+20 1.5 1e+20 true 2000-02-29 Jan  2 03:04:05.000000 2024-01-02T03:04:05Z 00:00:00.000001",
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			// Arguments: unnamed statement, Parse/Describe/Bind/Execute.
			var i8 int64
			var s string
			var b bool
			if err := db.QueryRowContext(ctx, echoQuery, 11, "zz", 2.5, true, "2024-01-01 00:00:00+00", "2024-01-01", "3.5", 4).
				Scan(&i8, &s, new(float64), &b, new(time.Time), new(time.Time), new(float64), new(int32)); err != nil {
				t.Fatal(err)
			}
			if i8 != 11 || s != "zz" || !b {
				t.Errorf("echo %d %q %v", i8, s, b)
			}
			// Errors carry the SQLSTATE.
			_, err = db.ExecContext(ctx, "select 1/0")
			var pe *pq.Error
			if !errors.As(err, &pe) || pe.Code != "22012" {
				t.Errorf("error %v", err)
			}
			// Transactions.
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			var one int32
			if err := tx.QueryRowContext(ctx, "select 1").Scan(&one); err != nil || one != 1 {
				t.Fatal(err)
			}
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestPsql(t *testing.T) {
	psql, err := exec.LookPath("psql")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("psql is not installed")
		}
		t.Skip("psql is not installed: apt-get install postgresql-client")
	}
	ts := startServer(t)
	run := func(args ...string) (string, string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, psql, append([]string{"-X", "-h", "127.0.0.1", "-p", fmt.Sprint(ts.addr.Port), "-U", "strata", "-d", "strata"}, args...)...)
		cmd.Env = append(os.Environ(), "PGCONNECT_TIMEOUT=5", "PGSSLMODE=prefer", "PGAPPNAME=psql")
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		return stdout.String(), stderr.String(), err
	}
	cases := []struct {
		args       []string
		stdout     string
		stderr     string
		failStatus bool
	}{
		{args: []string{"-c", "select * from items"}, stdout: `         id          | small |     mid     | name  | price | ratio |        amount         | ok |    day     |             ts             |             tstz              |                dur                
---------------------+-------+-------------+-------+-------+-------+-----------------------+----+------------+----------------------------+-------------------------------+-----------------------------------
                   1 |    -2 |      300000 | alpha |   1.5 |  0.25 |                123.45 | t  | 2024-06-01 | 2024-06-01 05:45:25.511126 | 2024-06-01 05:45:25.511126+00 | 1 year 2 mons 3 days 04:05:06.789
                   2 | 32767 | -2147483648 | βeta  |  -0.1 | 1e+06 |                -0.001 | f  | 1999-12-31 | 1970-01-01 00:00:00        | 2000-01-01 00:00:00+00        | -1 days
                   3 |       |             |       |       |       |                       |    |            |                            |                               | 
 9223372036854775807 |     0 |           0 | alpha | 1e+20 |   1.5 | 100000000000000000000 | t  | 2000-02-29 | 2024-01-02 03:04:05        | 2024-01-02 03:04:05+00        | 00:00:00.000001
(4 rows)

`},
		{args: []string{"-A", "-F", "|", "-c", "select * from items"}, stdout: `id|small|mid|name|price|ratio|amount|ok|day|ts|tstz|dur
1|-2|300000|alpha|1.5|0.25|123.45|t|2024-06-01|2024-06-01 05:45:25.511126|2024-06-01 05:45:25.511126+00|1 year 2 mons 3 days 04:05:06.789
2|32767|-2147483648|βeta|-0.1|1e+06|-0.001|f|1999-12-31|1970-01-01 00:00:00|2000-01-01 00:00:00+00|-1 days
3|||||||||||
9223372036854775807|0|0|alpha|1e+20|1.5|100000000000000000000|t|2000-02-29|2024-01-02 03:04:05|2024-01-02 03:04:05+00|00:00:00.000001
(4 rows)
`},
		{args: []string{"-A", "-t", "-c", "select 1; insert into items values (1); select n from big"}, stdout: "1\nINSERT 0 1\n" + seq(1, 10000)},
		{args: []string{"-c", "select 1/0"}, stderr: "ERROR:  division by zero\n", failStatus: true},
		{args: []string{"-c", "select bogus"}, stderr: "ERROR:  syntax error at or near \"bogus\"\nLINE 1: select bogus\n               ^\n", failStatus: true},
		{args: []string{"-A", "-t", "-c", "show application_name", "-c", "select 1"}, stdout: "1\n",
			stderr: "ERROR:  relation for \"show application_name\" does not exist\n"},
		{args: []string{"-c", ""}, stdout: ""},
		{args: []string{"-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", "begin", "-c", "select 1", "-c", "commit"}, stdout: "BEGIN\n1\nCOMMIT\n"},
	}
	for _, c := range cases {
		stdout, stderr, err := run(c.args...)
		var ee *exec.ExitError
		if c.failStatus != errors.As(err, &ee) || (err != nil && ee == nil) {
			t.Errorf("psql %q: err %v, stderr %s", c.args, err, stderr)
		}
		if stdout != c.stdout || stderr != c.stderr {
			t.Errorf("psql %q:\nstdout:\n%s\nwant:\n%s\nstderr:\n%s\nwant:\n%s", c.args, stdout, c.stdout, stderr, c.stderr)
		}
	}
}

func seq(from, to int) string {
	var b strings.Builder
	for i := from; i <= to; i++ {
		fmt.Fprintf(&b, "%d\n", i)
	}
	return b.String()
}
