package sql

import (
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/stratadb/strata/engine"
	"github.com/stratadb/strata/internal/sqlstate"
)

// settingDef is one run-time parameter a session knows.
type settingDef struct {
	name string // PostgreSQL's spelling (SHOW's column name)
	def  string
}

// settings strata knows. TimeZone takes any IANA zone, a number of hours or a POSIX
// zone (timezone.go).
var knownSettings = map[string]settingDef{
	"application_name":                    {"application_name", ""},
	"client_encoding":                     {"client_encoding", "UTF8"},
	"server_encoding":                     {"server_encoding", "UTF8"},
	"datestyle":                           {"DateStyle", "ISO, MDY"},
	"intervalstyle":                       {"IntervalStyle", "postgres"},
	"timezone":                            {"TimeZone", "UTC"},
	"extra_float_digits":                  {"extra_float_digits", "1"},
	"search_path":                         {"search_path", `"$user", public`},
	"statement_timeout":                   {"statement_timeout", "0"},
	settingVacuumCheck:                    {settingVacuumCheck, "on"},
	"lock_timeout":                        {"lock_timeout", "0"},
	"idle_in_transaction_session_timeout": {"idle_in_transaction_session_timeout", "0"},
	"idle_session_timeout":                {"idle_session_timeout", "0"},
	"standard_conforming_strings":         {"standard_conforming_strings", "on"},
	"server_version":                      {"server_version", "15.0"},
	"server_version_num":                  {"server_version_num", "150000"},
	"integer_datetimes":                   {"integer_datetimes", "on"},
	"lc_messages":                         {"lc_messages", "C"},
	"lc_monetary":                         {"lc_monetary", "C"},
	"lc_numeric":                          {"lc_numeric", "C"},
	"lc_time":                             {"lc_time", "C"},
	"bytea_output":                        {"bytea_output", "hex"},
	"client_min_messages":                 {"client_min_messages", "notice"},
	"default_transaction_isolation":       {"default_transaction_isolation", "read committed"},
	"transaction_isolation":               {"transaction_isolation", "read committed"},
	"default_transaction_read_only":       {"default_transaction_read_only", "off"},
	"transaction_read_only":               {"transaction_read_only", "off"},
	"max_identifier_length":               {"max_identifier_length", "63"},
	"is_superuser":                        {"is_superuser", "on"},
	"work_mem":                            {"work_mem", "4MB"},
	"jit":                                 {"jit", "off"},
	"geqo":                                {"geqo", "on"},
	"row_security":                        {"row_security", "on"},
	"synchronous_commit":                  {"synchronous_commit", "on"},
	// PostgreSQL's compiled-in limits (PgJDBC reads max_index_keys)
	"max_index_keys":    {"max_index_keys", "32"},
	"max_function_args": {"max_function_args", "100"},
}

func lookupSetting(name string) (settingDef, bool) {
	d, ok := knownSettings[strings.ToLower(name)]
	return d, ok
}

var readOnlySettings = map[string]bool{
	"server_version": true, "server_version_num": true, "server_encoding": true,
	"integer_datetimes": true, "max_identifier_length": true, "is_superuser": true,
	"max_index_keys": true, "max_function_args": true,
}

func (s *Session) setting(name string) (string, bool) {
	name = strings.ToLower(name)
	switch name {
	case "is_superuser":
		return onOff(s.Superuser()), true
	case "transaction_read_only":
		return onOff(s.readOnly()), true
	case "role":
		if s.role == "" {
			return "none", true
		}
		return s.role, true
	case "session_authorization":
		return s.User, true
	}
	if v, ok := s.settings[name]; ok {
		return v, true
	}
	if v, ok := s.db.timeoutDefault(name); ok {
		return v, true
	}
	if d, ok := knownSettings[name]; ok {
		return d.def, true
	}
	return "", false
}

// timeoutDefault is the server-wide default of a timeout setting (Options), when
// one is set, in PostgreSQL's SHOW form ("5s", "1min", "250ms").
func (db *DB) timeoutDefault(name string) (string, bool) {
	var d time.Duration
	switch name {
	case "statement_timeout":
		d = db.opts.StatementTimeout
	case "idle_session_timeout":
		d = db.opts.IdleSessionTimeout
	case "idle_in_transaction_session_timeout":
		d = db.opts.IdleInTransactionSessionTimeout
	}
	if d <= 0 {
		return "", false
	}
	return formatMillis(d), true
}

// formatMillis renders d as PostgreSQL shows a setting in milliseconds: in the
// largest unit that divides it exactly.
func formatMillis(d time.Duration) string {
	ms := d.Milliseconds()
	if ms == 0 {
		ms = 1 // a positive timeout never shows as 0, which would mean off
	}
	for _, u := range []struct {
		n    int64
		name string
	}{{86400_000, "d"}, {3600_000, "h"}, {60_000, "min"}, {1000, "s"}} {
		if ms%u.n == 0 {
			return strconv.FormatInt(ms/u.n, 10) + u.name
		}
	}
	return strconv.FormatInt(ms, 10) + "ms"
}

// checkSetting validates value for name.
func checkSetting(name, value string) error {
	name = strings.ToLower(name)
	if _, ok := knownSettings[name]; !ok {
		if strings.Contains(name, ".") {
			return nil // custom (extension.name) settings are accepted as in PostgreSQL
		}
		return engine.Errorf(sqlstate.UndefinedObject, "unrecognized configuration parameter %q", name)
	}
	if readOnlySettings[name] {
		return engine.Errorf(sqlstate.CantChangeRuntimeParam, "parameter %q cannot be changed", name)
	}
	switch name {
	case "timezone":
		if _, err := canonicalZone(value); err != nil {
			return err
		}
	case "client_encoding":
		switch strings.ToUpper(strings.ReplaceAll(value, "-", "")) {
		case "UTF8", "UNICODE":
		default:
			return engine.Unsupported("client_encoding " + strconv.Quote(value))
		}
	case "extra_float_digits":
		n, err := strconv.Atoi(strings.TrimSpace(value))
		if err != nil || n < -15 || n > 3 {
			return engine.Errorf(sqlstate.InvalidParameterValue, "invalid value for parameter \"extra_float_digits\": %q", value)
		}
	case "statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout", "idle_session_timeout":
		if d, err := parseTimeout(value); err != nil || d < 0 {
			return engine.Errorf(sqlstate.InvalidParameterValue, "invalid value for parameter %q: %q", name, value)
		}
	case settingVacuumCheck:
		if _, ok := parseBoolSetting(value); !ok {
			return engine.Errorf(sqlstate.InvalidParameterValue, "parameter %q requires a Boolean value", name)
		}
	case "datestyle":
		if !strings.Contains(strings.ToUpper(value), "ISO") {
			return engine.Unsupported("DateStyle " + strconv.Quote(value))
		}
	}
	return nil
}

func (s *Session) set(name, value string) error {
	name = strings.ToLower(name)
	if err := checkSetting(name, value); err != nil {
		return err
	}
	if superuserSetting(name) {
		if err := s.db.checkAccess(s.currentUser(), access{kind: accessSetting, what: name}); err != nil {
			return err
		}
	}
	if name == "transaction_read_only" {
		ro, ok := parseBoolSetting(value)
		if !ok {
			return engine.Errorf(sqlstate.InvalidParameterValue, "parameter %q requires a Boolean value", name)
		}
		if s.tx.open {
			s.tx.readOnly = ro
		}
		return nil
	}
	switch name {
	case "timezone":
		value, _ = canonicalZone(value)
	case "client_encoding":
		value = "UTF8"
	case "datestyle":
		value = "ISO, MDY"
	}
	s.settings[name] = value
	return nil
}

// settingRows lists every known setting as (name, default value, description) for
// pg_settings, sorted by name.
func settingRows() [][3]string {
	var out [][3]string
	for _, d := range knownSettings {
		out = append(out, [3]string{d.name, d.def, "strata run-time parameter"})
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}
