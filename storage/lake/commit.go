package lake

// Commits: one _delta_log/%020d.json per version, created with PutIfAbsent. A
// writer that loses the race reads the winning commits, checks them for logical
// conflicts with its own actions and retries at the next version.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// ErrTxnAlreadyCommitted is returned by Commit when the table already records a
// txn for the commit's appId with a version >= the commit's: the transaction was
// committed before (idempotent handoff), and nothing was written.
var ErrTxnAlreadyCommitted = errors.New("lake: transaction already committed")

// ErrConflict is returned (wrapped) by Commit when a concurrent commit changed
// something this commit depends on (metaData, protocol, a file it removes, or its
// txn appId). The caller must re-read the table and redo its work.
var ErrConflict = errors.New("lake: concurrent modification")

// maxCommitAttempts bounds the retries of one Commit after losing races.
const maxCommitAttempts = 100

// Action is one line of a commit file; exactly one field is set.
type Action struct {
	Protocol *Protocol   `json:"protocol,omitempty"`
	Metadata *Metadata   `json:"metaData,omitempty"`
	Add      *AddFile    `json:"add,omitempty"`
	Remove   *RemoveFile `json:"remove,omitempty"`
	Txn      *Txn        `json:"txn,omitempty"`
}

// RemoveActions returns a remove action (dataChange = true) for every live
// file of snap, deleted at now (Unix ms): a commit of them empties the table.
func RemoveActions(snap *Snapshot, now int64) []Action {
	var acts []Action
	for _, f := range snap.Files() {
		size := f.Size
		acts = append(acts, Action{Remove: &RemoveFile{Path: f.Path, DeletionTimestamp: &now, DataChange: true,
			ExtendedFileMetadata: true, PartitionValues: f.PartitionValues, Size: &size, DeletionVector: f.DeletionVector}})
	}
	return acts
}

// AddActions wraps adds as actions.
func AddActions(adds []*AddFile) []Action {
	out := make([]Action, len(adds))
	for i, a := range adds {
		out[i] = Action{Add: a}
	}
	return out
}

func commitInfo(op string, params map[string]any, readVersion int64, blind bool, now int64) map[string]any {
	if params == nil {
		params = map[string]any{}
	}
	ci := map[string]any{
		"timestamp": now, "operation": op, "operationParameters": params,
		"isolationLevel": "Serializable", "isBlindAppend": blind, "engineInfo": "strata-lake",
	}
	if readVersion >= 0 {
		ci["readVersion"] = readVersion
	}
	if op == "OPTIMIZE" {
		ci["isolationLevel"] = "SnapshotIsolation"
	}
	return ci
}

// encodeCommit writes commitInfo first, then the actions, one JSON object a line.
func encodeCommit(acts []Action, ci map[string]any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b) // Encode appends '\n'
	enc.SetEscapeHTML(false)
	if err := enc.Encode(map[string]any{"commitInfo": ci}); err != nil {
		return nil, fmt.Errorf("lake: encode commitInfo: %w", err)
	}
	for i := range acts {
		a := acts[i]
		n := 0
		if a.Protocol != nil {
			n++
		}
		if a.Metadata != nil {
			n++
		}
		if a.Add != nil {
			n++
			if a.Add.PartitionValues == nil {
				cp := *a.Add
				cp.PartitionValues = map[string]*string{}
				a.Add = &cp
			}
		}
		if a.Remove != nil {
			n++
		}
		if a.Txn != nil {
			n++
		}
		if n != 1 {
			panic(fmt.Sprintf("BUG: lake action %d has %d kinds set", i, n))
		}
		if err := enc.Encode(a); err != nil {
			return nil, fmt.Errorf("lake: encode action %d: %w", i, err)
		}
	}
	return b.Bytes(), nil
}

func (t *Table) commitKey(v int64) string { return t.logPrefix() + fmt.Sprintf("%020d.json", v) }

// Commit writes actions as the version after readVersion (the version the caller
// read) with commitInfo {operation: op, operationParameters: opParams}. If another
// writer created that version first, Commit reads the winners and retries at the
// next version unless they conflict: a metaData or protocol change, a remove of a
// file this commit also removes, or a txn for one of this commit's appIds (with a
// version >= ours: ErrTxnAlreadyCommitted; else ErrConflict). Blind appends never
// conflict with each other. A commit carrying txn actions is also checked against
// the table at readVersion, so replaying an already committed txn returns
// ErrTxnAlreadyCommitted and writes nothing.
//
// After committing a version that is a positive multiple of the checkpoint
// interval (CheckpointInterval) Commit writes a checkpoint and
// _last_checkpoint; a failure there does not fail the commit (the checkpoint is an
// optimization) and is reported to OnCheckpointError.
func Commit(ctx context.Context, t *Table, readVersion int64, actions []Action, op string, opParams map[string]any) (int64, error) {
	wfs := t.fs
	if readVersion < 0 {
		return -1, fmt.Errorf("lake: table %s: commit needs the version it read (use CreateTable for version 0)", t.name())
	}
	txns := map[string]int64{}
	removes := map[string]bool{}
	blind := true
	changesMeta := false
	for _, a := range actions {
		switch {
		case a.Txn != nil:
			if _, dup := txns[a.Txn.AppID]; dup {
				return -1, fmt.Errorf("lake: table %s: two txn actions for appId %q in one commit", t.name(), a.Txn.AppID)
			}
			txns[a.Txn.AppID] = a.Txn.Version
		case a.Remove != nil:
			blind = false
			k, _, err := decodePath(a.Remove.Path)
			if err != nil {
				return -1, fmt.Errorf("lake: table %s: remove: %w", t.name(), err)
			}
			removes[k] = true
		case a.Add != nil:
			if !a.Add.DataChange {
				blind = false
			}
		case a.Metadata != nil, a.Protocol != nil:
			blind, changesMeta = false, true
		}
	}
	if len(txns) > 0 {
		snap, err := t.SnapshotAt(ctx, readVersion)
		if err != nil {
			return -1, err
		}
		for app, v := range txns {
			if have, ok := snap.TxnVersion(app); ok && have >= v {
				return -1, fmt.Errorf("lake: table %s: txn %s version %d (table has %d at version %d): %w", t.name(), app, v, have, readVersion, ErrTxnAlreadyCommitted)
			}
		}
	}
	// Our own copy: txn.lastUpdated is filled in without touching the caller's actions.
	actions = append([]Action(nil), actions...)
	for i := range actions {
		if tx := actions[i].Txn; tx != nil && tx.LastUpdated == nil {
			cp := *tx
			now := time.Now().UnixMilli()
			cp.LastUpdated = &now
			actions[i].Txn = &cp
		}
	}
	v := readVersion + 1
	for attempt := 0; attempt < maxCommitAttempts; attempt++ {
		if err := ctx.Err(); err != nil {
			return -1, err
		}
		now := time.Now().UnixMilli()
		b, err := encodeCommit(actions, commitInfo(op, opParams, readVersion, blind, now))
		if err != nil {
			return -1, err
		}
		err = wfs.PutIfAbsent(ctx, t.commitKey(v), b)
		if err == nil {
			t.afterCommit(ctx, v)
			return v, nil
		}
		if !errors.Is(err, ErrExists) {
			return -1, fmt.Errorf("lake: table %s: commit %d: %w", t.name(), v, err)
		}
		// Lost the race for v: check the winner, then try v+1.
		wb, err := wfs.Get(ctx, t.commitKey(v))
		if err != nil {
			return -1, fmt.Errorf("lake: table %s: read winning commit %d: %w", t.name(), v, err)
		}
		win, err := ParseCommit(wb)
		if err != nil {
			return -1, fmt.Errorf("lake: table %s: winning commit %d: %w", t.name(), v, err)
		}
		if err := checkConflict(win, txns, removes, changesMeta); err != nil {
			return -1, fmt.Errorf("lake: table %s: commit after version %d conflicts with version %d: %w", t.name(), readVersion, v, err)
		}
		v++
	}
	return -1, fmt.Errorf("lake: table %s: commit gave up after %d attempts (last tried version %d): %w", t.name(), maxCommitAttempts, v-1, ErrConflict)
}

// checkConflict decides whether a commit that won the race invalidates ours.
func checkConflict(win *Actions, txns map[string]int64, removes map[string]bool, changesMeta bool) error {
	for _, tx := range win.Txns {
		if mine, ok := txns[tx.AppID]; ok {
			if tx.Version >= mine {
				return fmt.Errorf("txn %s already at version %d: %w", tx.AppID, tx.Version, ErrTxnAlreadyCommitted)
			}
			return fmt.Errorf("concurrent txn for appId %s: %w", tx.AppID, ErrConflict)
		}
	}
	if win.Metadata != nil {
		return fmt.Errorf("concurrent metaData change: %w", ErrConflict)
	}
	if win.Protocol != nil {
		return fmt.Errorf("concurrent protocol change: %w", ErrConflict)
	}
	if changesMeta && (len(win.Adds) > 0 || len(win.Removes) > 0) {
		return fmt.Errorf("metaData change raced with a data change: %w", ErrConflict)
	}
	for _, r := range win.Removes {
		if removes[r.DecodedPath] {
			return fmt.Errorf("file %s was removed concurrently: %w", r.DecodedPath, ErrConflict)
		}
	}
	return nil
}

// CheckpointInterval is how often Commit writes a checkpoint: after every version
// that is a positive multiple of it (Spark's rule for delta.checkpointInterval's
// default; a table's own delta.checkpointInterval is not consulted).
const CheckpointInterval = 10

// OnCheckpointError, when set, is told about a checkpoint Commit failed to
// write after a successful commit (the commit stands; readers replay JSON).
var OnCheckpointError func(table string, version int64, err error)

// afterCommit writes a checkpoint when version v is due one.
func (t *Table) afterCommit(ctx context.Context, v int64) {
	if v == 0 || v%CheckpointInterval != 0 {
		return
	}
	snap, err := t.SnapshotAt(ctx, v)
	if err == nil {
		err = WriteCheckpoint(ctx, snap)
	}
	if err != nil && OnCheckpointError != nil {
		OnCheckpointError(t.name(), v, err)
	}
}

// HistoryEntry is one row of DESCRIBE HISTORY.
type HistoryEntry struct {
	Version             int64
	Timestamp           time.Time
	Operation           string
	OperationParameters map[string]any
	ReadVersion         *int64
	IsBlindAppend       *bool
	IsolationLevel      string
	EngineInfo          string
}

// History returns the commitInfo of the newest commits, newest first (limit <= 0:
// all). Versions whose commit file is gone (log cleanup) are not listed.
func History(ctx context.Context, t *Table, limit int) ([]HistoryEntry, error) {
	l, err := t.list(ctx, "")
	if err != nil {
		return nil, err
	}
	// The timestamps time travel uses (TIMESTAMP AS OF), so that a time read
	// from the history selects that version, as in Delta.
	var first int64 = -1
	var ts []int64
	if l.maxCommit >= 0 {
		latest, err := t.snapshotAt(ctx, l, l.maxCommit, nil)
		if err != nil {
			return nil, err
		}
		if first, ts, err = t.commitTimestamps(ctx, l, latest); err != nil {
			return nil, err
		}
	}
	versions := make([]int64, 0, len(l.commits))
	for v := range l.commits {
		versions = append(versions, v)
	}
	sort.Slice(versions, func(i, j int) bool { return versions[i] > versions[j] })
	var out []HistoryEntry
	for _, v := range versions {
		if limit > 0 && len(out) >= limit {
			break
		}
		o := l.commits[v]
		b, err := t.fs.Get(ctx, o.Key)
		if err != nil {
			return nil, fmt.Errorf("lake: table %s: history: commit %d: %w", t.name(), v, err)
		}
		acts, err := ParseCommit(b)
		if err != nil {
			return nil, fmt.Errorf("lake: table %s: history: commit %d: %w", t.name(), v, err)
		}
		h := HistoryEntry{Version: v, Timestamp: o.ModTime}
		if ci := acts.CommitInfo; ci != nil {
			var f struct {
				Timestamp           *int64         `json:"timestamp"`
				InCommitTimestamp   *int64         `json:"inCommitTimestamp"`
				Operation           string         `json:"operation"`
				OperationParameters map[string]any `json:"operationParameters"`
				ReadVersion         *int64         `json:"readVersion"`
				IsBlindAppend       *bool          `json:"isBlindAppend"`
				IsolationLevel      string         `json:"isolationLevel"`
				EngineInfo          string         `json:"engineInfo"`
			}
			// commitInfo is free-form: a field of an unexpected type is left out.
			if json.Unmarshal(ci.Raw, &f) != nil {
				var loose map[string]json.RawMessage
				_ = json.Unmarshal(ci.Raw, &loose)
				for k, raw := range loose {
					switch strings.ToLower(k) {
					case "operation":
						_ = json.Unmarshal(raw, &f.Operation)
					case "timestamp":
						_ = json.Unmarshal(raw, &f.Timestamp)
					}
				}
			}
			switch {
			case first >= 0 && v >= first && v-first < int64(len(ts)):
				h.Timestamp = time.UnixMilli(ts[v-first])
			case f.InCommitTimestamp != nil:
				h.Timestamp = time.UnixMilli(*f.InCommitTimestamp)
			case f.Timestamp != nil:
				h.Timestamp = time.UnixMilli(*f.Timestamp)
			}
			h.Operation, h.OperationParameters = f.Operation, f.OperationParameters
			h.ReadVersion, h.IsBlindAppend = f.ReadVersion, f.IsBlindAppend
			h.IsolationLevel, h.EngineInfo = f.IsolationLevel, f.EngineInfo
		}
		out = append(out, h)
	}
	return out, nil
}

func isExists(err error) bool { return errors.Is(err, ErrExists) }
