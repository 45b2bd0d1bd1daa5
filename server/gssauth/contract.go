package gssauth

// GSSContext and GSSAcceptor are Contract 2's pgwire.GSSAcceptor and
// pgwire.GSSContext, copied here until server/pgwire has them (branch
// sec-auth); then NewContext returns pgwire.GSSContext and this file goes.
type GSSContext interface {
	Step(token []byte) (out []byte, done bool, err error)
	Principal() string
}

type GSSAcceptor interface {
	NewContext() GSSContext
}

var _ GSSAcceptor = (*Acceptor)(nil)
