package krbtest

import (
	"fmt"
	"time"

	"github.com/jcmturner/gokrb5/v8/client"
	"github.com/jcmturner/gokrb5/v8/config"
	"github.com/jcmturner/gokrb5/v8/credentials"
	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/gssapi"
	"github.com/jcmturner/gokrb5/v8/iana/flags"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/spnego"
	"github.com/jcmturner/gokrb5/v8/types"
)

// Initiator is the client side of the Kerberos GSS-API exchange for tests that
// need more control than libgssapi gives (psql will not send an expired ticket,
// and makes a new authenticator for every connection): it wraps the service
// ticket the real kvno left in a credentials cache into initial context tokens,
// each with a new authenticator made at the time of the call, as libgssapi
// does, and checks the server's AP-REP.
type Initiator struct {
	Ticket     messages.Ticket
	SessionKey types.EncryptionKey
	EndTime    time.Time // the ticket's end, from the cache

	cl   *client.Client
	sent *types.Authenticator // of the last Token
}

// NewInitiator reads the ticket for service (e.g. "postgres/localhost") from
// the credentials cache at ccache (see Kinit and Kvno).
func (k *KDC) NewInitiator(ccache, service string) (*Initiator, error) {
	cc, err := credentials.LoadCCache(ccache)
	if err != nil {
		return nil, err
	}
	cred, ok := cc.GetEntry(types.NewPrincipalName(nametype.KRB_NT_SRV_INST, service))
	if !ok {
		return nil, fmt.Errorf("no %s ticket in %s", service, ccache)
	}
	i := &Initiator{SessionKey: cred.Key, EndTime: cred.EndTime}
	if err := i.Ticket.Unmarshal(cred.Ticket); err != nil {
		return nil, err
	}
	cfg, err := config.Load(k.Config)
	if err != nil {
		return nil, err
	}
	// Only the client's name is taken from cl; it never talks to the KDC.
	i.cl = client.NewWithPassword(cc.GetClientPrincipalName().PrincipalNameString(), cc.GetClientRealm(), "", cfg)
	return i, nil
}

// Token returns a new initial context token with the given GSS flags
// (gssapi.ContextFlag...); with ContextFlagMutual it also asks for mutual
// authentication in the AP options, as MIT's initiator does.
func (i *Initiator) Token(gssFlags ...int) ([]byte, error) {
	var apOptions []int
	for _, f := range gssFlags {
		if f == gssapi.ContextFlagMutual {
			apOptions = append(apOptions, flags.APOptionMutualRequired)
		}
	}
	tok, err := spnego.NewKRB5TokenAPREQ(i.cl, i.Ticket, i.SessionKey, gssFlags, apOptions)
	if err != nil {
		return nil, err
	}
	if err := tok.APReq.DecryptAuthenticator(i.SessionKey); err != nil {
		return nil, err
	}
	i.sent = &tok.APReq.Authenticator
	return tok.Marshal()
}

// CheckReply checks that reply is an AP-REP token for the last Token: its
// encrypted part opens with the session key (key usage 12) and repeats the
// authenticator's time, which only a holder of the service key can do.
func (i *Initiator) CheckReply(reply []byte) error {
	if i.sent == nil {
		return fmt.Errorf("no token sent")
	}
	var tok spnego.KRB5Token
	if err := tok.Unmarshal(reply); err != nil {
		return fmt.Errorf("reply token: %v", err)
	}
	if !tok.IsAPRep() {
		return fmt.Errorf("reply token holds no AP-REP")
	}
	plain, err := crypto.DecryptEncPart(tok.APRep.EncPart, i.SessionKey, keyusage.AP_REP_ENCPART)
	if err != nil {
		return fmt.Errorf("AP-REP does not open with the session key: %v", err)
	}
	var part messages.EncAPRepPart
	if err := part.Unmarshal(plain); err != nil {
		return err
	}
	if !part.CTime.Equal(i.sent.CTime) || part.Cusec != i.sent.Cusec {
		return fmt.Errorf("AP-REP time %v.%06d, authenticator's %v.%06d", part.CTime, part.Cusec, i.sent.CTime, i.sent.Cusec)
	}
	if part.SequenceNumber == 0 {
		return fmt.Errorf("AP-REP has no sequence number")
	}
	return nil
}
