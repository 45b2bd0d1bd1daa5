// Package pgwire serves PostgreSQL's frontend/backend protocol, version 3.0, over a
// Backend (the sql package's DB in production, through SQLBackend).
//
// It owns startup (SSLRequest is served with TLS when Options.TLSConfig is set and
// declined with 'N' otherwise, GSSENCRequest is always declined, protocol 3.2
// is negotiated down to 3.0, authentication by hba rules (auth.go: trust, reject,
// SCRAM-SHA-256, cleartext password over TLS only, GSSAPI through Options.GSS),
// startup parameters handed to the
// session's Set when it has one, ParameterStatus, BackendKeyData),
// the simple and the extended query protocols, COPY FROM STDIN, CancelRequest, the
// encoding of results in text and binary formats under PostgreSQL's type OIDs, the
// decoding of binary parameters, and the mapping of errors to SQLSTATE ErrorResponses.
//
// Invariants:
//   - One goroutine owns a connection: it reads every frontend message and writes
//     every backend message, so nothing locks the socket. Only cancellation reaches a
//     connection from outside (CancelRequest, Shutdown), through contexts and by
//     closing the socket.
//   - Backend messages are appended to the connection's one write buffer and written
//     at ReadyForQuery, Flush, CopyInResponse and whenever the buffer passes
//     flushSize while rows stream. DataRows are encoded column-typed, straight into
//     that buffer: no allocation and no interface call per value.
//   - A panic inside the backend or the encoders is recovered into an XX000 error and
//     the connection lives on; a write error ends the connection and every query it
//     runs (contexts are cancelled, Rows closed, COPY goroutines joined).
//   - While a statement runs nothing reads the socket; a timer peeks at it
//     (Options.PeerCheckInterval) and cancels the statement when the client has
//     closed it, which is how pgx and Grafana give up on a query.
//   - After an error in the extended protocol, messages are discarded until Sync.
//   - The transaction status (I, T, E) follows the command tags BEGIN / COMMIT /
//     ROLLBACK. In a failed block (E) only COMMIT, ROLLBACK, END and ABORT run; any
//     other statement fails with 25P02, and COMMIT answers ROLLBACK, as in PostgreSQL.
package pgwire
