package sql

import (
	"context"
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/stratadb/strata/engine"
)

// Read-only transactions, as PostgreSQL has them: BEGIN READ ONLY, SET TRANSACTION
// READ ONLY inside a block, and default_transaction_read_only (SET, or SET SESSION
// CHARACTERISTICS AS TRANSACTION READ ONLY) for every transaction after. Every
// statement that changes something records an accessWrite need while it is bound
// (writeCommand), and checkAccess refuses it with 25006 when the statement's
// transaction is read-only. strata has no multi-statement transactions otherwise:
// the block only carries its read-only flag.

// txState is a session's transaction block.
type txState struct {
	open     bool // between BEGIN and COMMIT/ROLLBACK
	readOnly bool // the open block's transaction_read_only
}

// readOnly reports whether a statement run now runs in a read-only transaction.
func (s *Session) readOnly() bool {
	if s.tx.open {
		return s.tx.readOnly
	}
	return s.defaultReadOnly()
}

func (s *Session) defaultReadOnly() bool {
	v, _ := s.setting("default_transaction_read_only")
	ro, _ := parseBoolSetting(v)
	return ro
}

// txReadOnlyOption reads transaction_read_only out of a BEGIN's or SET
// TRANSACTION's options; ok is false when they do not set it.
func txReadOnlyOption(opts []*pg.Node) (readOnly, ok bool) {
	for _, o := range opts {
		d := o.GetDefElem()
		if d == nil || d.Defname != "transaction_read_only" {
			continue
		}
		if c := d.Arg.GetAConst(); c != nil {
			readOnly, ok = c.GetIval().GetIval() != 0, true
		}
	}
	return readOnly, ok
}

// beginBound binds BEGIN / START TRANSACTION [READ ONLY | READ WRITE].
func beginBound(opts []*pg.Node) (*bound, []engine.Field, error) {
	ro, set := txReadOnlyOption(opts)
	return &bound{run: func(ctx context.Context, s *Session, _ []engine.Value) (*Result, error) {
		res := &Result{Tag: "BEGIN"}
		if s.tx.open {
			res.Notices = []string{"there is already a transaction in progress"}
			if set {
				s.tx.readOnly = ro
			}
			return res, nil
		}
		s.tx = txState{open: true, readOnly: s.defaultReadOnly()}
		if set {
			s.tx.readOnly = ro
		}
		return res, nil
	}}, nil, nil
}

// endBound binds COMMIT / ROLLBACK (and END, ABORT).
func endBound(tag string) *bound {
	return &bound{run: func(ctx context.Context, s *Session, _ []engine.Value) (*Result, error) {
		s.tx = txState{}
		return &Result{Tag: tag}, nil
	}}
}

// setTransactionBound binds SET TRANSACTION ... and SET SESSION CHARACTERISTICS AS
// TRANSACTION ... (VAR_SET_MULTI).
func setTransactionBound(vs *pg.VariableSetStmt) (*bound, []engine.Field, error) {
	ro, set := txReadOnlyOption(vs.Args)
	session := strings.EqualFold(vs.Name, "SESSION CHARACTERISTICS")
	return &bound{run: func(ctx context.Context, s *Session, _ []engine.Value) (*Result, error) {
		res := &Result{Tag: "SET"}
		switch {
		case !set:
		case session:
			s.settings["default_transaction_read_only"] = onOff(ro)
		case !s.tx.open:
			// PostgreSQL's WARNING (25P01); the statement has no effect.
			res.Notices = []string{"SET TRANSACTION can only be used in transaction blocks"}
		default:
			s.tx.readOnly = ro
		}
		return res, nil
	}}, nil, nil
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// writeCommand is the command name PostgreSQL's read-only check reports for a
// statement that changes something ("cannot execute INSERT in a read-only
// transaction"); "" for a statement that changes nothing.
func writeCommand(n *pg.Node) string {
	switch x := n.Node.(type) {
	case *pg.Node_InsertStmt:
		return "INSERT"
	case *pg.Node_UpdateStmt:
		return "UPDATE"
	case *pg.Node_DeleteStmt:
		return "DELETE"
	case *pg.Node_CopyStmt:
		if x.CopyStmt.IsFrom {
			return "COPY FROM"
		}
	case *pg.Node_CreateStmt:
		return "CREATE TABLE"
	case *pg.Node_CreateTableAsStmt:
		return "CREATE TABLE AS"
	case *pg.Node_DropStmt:
		return "DROP " + strings.ReplaceAll(strings.TrimPrefix(x.DropStmt.RemoveType.String(), "OBJECT_"), "_", " ")
	case *pg.Node_AlterTableStmt:
		return "ALTER TABLE"
	case *pg.Node_IndexStmt:
		return "CREATE INDEX"
	case *pg.Node_TruncateStmt:
		return "TRUNCATE TABLE"
	case *pg.Node_VacuumStmt:
		return "VACUUM"
	case *pg.Node_CreateRoleStmt:
		return "CREATE ROLE"
	case *pg.Node_AlterRoleStmt:
		return "ALTER ROLE"
	case *pg.Node_DropRoleStmt:
		return "DROP ROLE"
	case *pg.Node_RenameStmt:
		if x.RenameStmt.RenameType == pg.ObjectType_OBJECT_ROLE {
			return "ALTER ROLE"
		}
		return "ALTER TABLE"
	case *pg.Node_GrantStmt:
		if x.GrantStmt.IsGrant {
			return "GRANT"
		}
		return "REVOKE"
	case *pg.Node_GrantRoleStmt:
		if x.GrantRoleStmt.IsGrant {
			return "GRANT ROLE"
		}
		return "REVOKE ROLE"
	case *pg.Node_AlterOwnerStmt:
		return "ALTER TABLE"
	}
	return ""
}
