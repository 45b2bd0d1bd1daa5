package http

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"mime"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/internal/sqlstate"
	"github.com/stratadb/strata/sql"
)

// POST /v1/sql runs one SQL statement for scripts:
//
//	request:  {"sql": "SELECT ..."}        with Content-Type: application/json
//	response: {"columns": [{"name": "n", "type": "bigint"}], "rows": [[42]], "command": "SELECT 1"}
//
// Numbers and booleans are JSON numbers and booleans (NaN and ±Infinity, which JSON
// lacks, are strings), NULL is null, everything else is its PostgreSQL text form.
// With "Accept: text/csv" the rows come as CSV with a header line (NULL as an empty
// field, PostgreSQL's COPY ... CSV convention). An error is HTTP 400 (500 for an
// internal one) with {"error": {"code": SQLSTATE, "message", "position"?}}.
//
// The request is authenticated first (auth.go: 401/403), and the statement runs
// in a session of the authenticated role. Only application/json bodies are
// read (415 otherwise): a web page can send text/plain, form or multipart
// bodies to any address without the browser asking first (a CORS "simple
// request"), but not JSON, so a page in a browser on the server's machine
// cannot use loopback trust to run statements.

const maxSQLBody = 1 << 20

type sqlRequest struct {
	SQL string `json:"sql"`
}

type sqlColumn struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

type sqlError struct {
	Code     string `json:"code"`
	Message  string `json:"message"`
	Detail   string `json:"detail,omitempty"`
	Hint     string `json:"hint,omitempty"`
	Position int    `json:"position,omitempty"`
}

func sqlHandler(db *sql.DB, auth *authenticator) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		// A panic in the statement (the engine's workers recover their own) is
		// the request's XX000, not a dropped connection.
		defer func() {
			if v := recover(); v != nil {
				slog.Error("http: panic in /v1/sql", "panic", v, "stack", string(debug.Stack()))
				writeSQLError(w, &engine.Error{Code: sqlstate.InternalError, Message: fmt.Sprintf("internal error: %v", v)})
			}
		}()
		role, f := auth.authenticate(r)
		if f != nil {
			writeAuthFailure(w, f)
			return
		}
		if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
			writeError(w, http.StatusUnsupportedMediaType, sqlError{Code: sqlstate.FeatureNotSupported,
				Message: fmt.Sprintf("Content-Type %q is not accepted: send {\"sql\": \"...\"} as application/json", r.Header.Get("Content-Type"))})
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, maxSQLBody+1))
		if err != nil {
			writeSQLError(w, engine.Errorf(sqlstate.ProtocolViolation, "reading request: %v", err))
			return
		}
		if len(body) > maxSQLBody {
			writeSQLError(w, engine.Errorf(sqlstate.ProgramLimitExceeded, "request body exceeds %d bytes", maxSQLBody))
			return
		}
		var req sqlRequest
		if err := json.Unmarshal(body, &req); err != nil {
			writeSQLError(w, engine.Errorf(sqlstate.ProtocolViolation, "request is not JSON of the form {\"sql\": \"...\"}: %v", err))
			return
		}
		query := req.SQL
		pieces, err := sql.Split(query)
		if err != nil {
			writeSQLError(w, err)
			return
		}
		if len(pieces) != 1 {
			writeSQLError(w, engine.Errorf(sqlstate.SyntaxError, "send exactly one statement per request (got %d)", len(pieces)))
			return
		}
		ctx := r.Context()
		sess := db.NewSession(role, httpDatabase)
		// statement_timeout (the server's default: one statement per request has
		// no SET before it) bounds the whole request, result writing included.
		if d := sess.Timeout("statement_timeout"); d > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, d)
			defer cancel()
		}
		st, err := sess.Prepare(ctx, pieces[0], nil)
		if err != nil {
			writeSQLError(w, err)
			return
		}
		if len(st.ParamTypes) > 0 {
			writeSQLError(w, engine.Errorf(sqlstate.UndefinedParameter, "there is no parameter $1"))
			return
		}
		res, err := sess.Execute(ctx, st, nil)
		if err != nil {
			writeSQLError(w, err)
			return
		}
		if res.CopyIn != nil {
			writeSQLError(w, engine.Unsupported("COPY FROM STDIN over HTTP"))
			return
		}
		if strings.Contains(r.Header.Get("Accept"), "text/csv") {
			writeCSV(ctx, w, res)
			return
		}
		writeJSON(ctx, w, res)
	}
}

func writeSQLError(w http.ResponseWriter, err error) {
	e := sqlError{Code: sqlstate.InternalError, Message: err.Error()}
	var ee *engine.Error
	switch {
	case errors.As(err, &ee):
		e = sqlError{Code: ee.Code, Message: ee.Message, Detail: ee.Detail, Hint: ee.Hint, Position: ee.Position}
	case errors.Is(err, context.DeadlineExceeded):
		e = sqlError{Code: sqlstate.QueryCanceled, Message: "canceling statement due to statement timeout"}
	case errors.Is(err, context.Canceled):
		e = sqlError{Code: sqlstate.QueryCanceled, Message: "canceling statement due to user request"}
	}
	status := http.StatusBadRequest
	if strings.HasPrefix(e.Code, "XX") || strings.HasPrefix(e.Code, "53") || strings.HasPrefix(e.Code, "58") {
		status = http.StatusInternalServerError
	}
	writeError(w, status, e)
}

func writeError(w http.ResponseWriter, status int, e sqlError) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]sqlError{"error": e})
}

// rowsOf calls each for every row of res as cells (nil for NULL) after reading
// them all: a statement that fails half-way sends an error, not half a result.
func rowsOf(ctx context.Context, res *sql.Result) ([][]any, string, error) {
	if res.Rows == nil {
		return nil, res.Tag, nil
	}
	defer res.Rows.Close()
	var out [][]any
	for {
		rec, err := res.Rows.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, "", err
		}
		for i := 0; i < int(rec.NumRows()); i++ {
			row := make([]any, rec.NumCols())
			for j := range row {
				row[j] = cell(rec.Column(j), i, res.Fields[j].Type)
			}
			out = append(out, row)
		}
		rec.Release()
	}
	return out, res.Tag + " " + strconv.Itoa(len(out)), nil
}

// cell is one value for JSON: numbers and booleans typed, the rest as text.
func cell(a arrow.Array, i int, t engine.Type) any {
	if a.IsNull(i) {
		return nil
	}
	switch a := a.(type) {
	case *array.Int64:
		if t.IsDecimal() { // exact numeric: its digits, 10.10 not 1010
			return json.Number(engine.AppendText(nil, a, i, t))
		}
		return a.Value(i)
	case *array.Boolean:
		return a.Value(i)
	case *array.String:
		if t.ID == engine.TypeNumeric && a.Value(i) != "NaN" && !strings.HasSuffix(a.Value(i), "Infinity") {
			return json.Number(a.Value(i)) // an exact numeric's digits
		}
	case *array.Float64:
		f := a.Value(i)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return string(engine.AppendText(nil, a, i, t))
		}
		if t.ID == engine.TypeNumeric {
			return json.Number(engine.AppendText(nil, a, i, t))
		}
		return f
	}
	return string(engine.AppendText(nil, a, i, t))
}

func writeJSON(ctx context.Context, w http.ResponseWriter, res *sql.Result) {
	rows, tag, err := rowsOf(ctx, res)
	if err != nil {
		writeSQLError(w, err)
		return
	}
	cols := make([]sqlColumn, len(res.Fields))
	for i, f := range res.Fields {
		cols[i] = sqlColumn{Name: f.Name, Type: f.Type.String()}
	}
	if rows == nil {
		rows = [][]any{}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(struct {
		Columns []sqlColumn `json:"columns"`
		Rows    [][]any     `json:"rows"`
		Command string      `json:"command"`
	}{cols, rows, tag})
}

func writeCSV(ctx context.Context, w http.ResponseWriter, res *sql.Result) {
	rows, _, err := rowsOf(ctx, res)
	if err != nil {
		writeSQLError(w, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	cw := csv.NewWriter(w)
	header := make([]string, len(res.Fields))
	for i, f := range res.Fields {
		header[i] = f.Name
	}
	cw.Write(header)
	rec := make([]string, len(res.Fields))
	for _, row := range rows {
		for j, v := range row {
			switch v := v.(type) {
			case nil:
				rec[j] = ""
			case string:
				rec[j] = v
			case json.Number:
				rec[j] = string(v)
			case float64:
				rec[j] = strconv.FormatFloat(v, 'g', -1, 64)
			case int64:
				rec[j] = strconv.FormatInt(v, 10)
			case bool:
				rec[j] = map[bool]string{true: "t", false: "f"}[v]
			}
		}
		cw.Write(rec)
	}
	cw.Flush()
}
