package passkey

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"

	"github.com/lethe-project/lethe/audit/logverify"
	"github.com/lethe-project/lethe/sign"

	"github.com/lethe-project/lethe/attest"
	"github.com/lethe-project/lethe/audit/receipt"
	"github.com/lethe-project/lethe/internal/audit/entry"
)

// Proof is everything needed to check a signed validation offline: the
// validation entry, the entry that registered the passkey that signed it,
// and the certificate's entry, each with its inclusion proof in the tree
// of one signed checkpoint.
type Proof struct {
	Version     int         `json:"version"`
	Checkpoint  string      `json:"checkpoint"`
	Validation  ProvedEntry `json:"validation"`
	Passkey     ProvedEntry `json:"passkey"`
	Certificate ProvedEntry `json:"certificate"`
	// LogKey and ServerKey are the keys the store says it uses; a
	// verifier should pin its own copies.
	LogKey    string `json:"logKey"`
	ServerKey string `json:"serverKey"`
}

// ProvedEntry is a log leaf with its inclusion proof.
type ProvedEntry struct {
	Index          uint64   `json:"index"`
	Entry          []byte   `json:"entry"`
	InclusionProof [][]byte `json:"inclusionProof"`
}

// Verified is what a verified proof shows.
type Verified struct {
	Statement  *Statement
	Passkey    *entry.Passkey
	Checkpoint *logverify.Checkpoint
	// Certificate is the certificate envelope the statement is about.
	Certificate []byte
	// KeysFromProof is set when the log or server key was taken from the
	// proof itself rather than pinned by the caller.
	KeysFromProof bool
}

// VerifyOptions pin what the verifier knows independently.
type VerifyOptions struct {
	Keys receipt.Keys
	// Certificate, if set, must be the certificate the validation is about.
	Certificate []byte
	// Passkey, if set, is the auditor's credential as the auditor exported
	// it at registration: the signing credential must be this one, so a
	// key registered later in the auditor's name (by anyone who controls
	// the store) does not count.
	Passkey *entry.Passkey
}

// Verify checks a signed validation offline: the checkpoint's signature,
// each entry's countersignature and inclusion, that the statement is about
// the certificate in the certificate entry (ID, subject digest, envelope
// digest, log index), that the store's summary agrees with the signed
// statement, that the passkey was registered to the statement's auditor
// before the validation, and the WebAuthn assertion itself.
func (p *Proof) Verify(o VerifyOptions) (*Verified, error) {
	k := o.Keys
	v := &Verified{}
	if k.ServerKey == nil {
		pub, err := sign.ParsePublicKey([]byte(p.ServerKey))
		if err != nil {
			return nil, fmt.Errorf("proof server key: %w", err)
		}
		k.ServerKey, v.KeysFromProof = pub, true
	}
	if k.LogKey == "" {
		k.LogKey, v.KeysFromProof = p.LogKey, true
	}
	cp, err := logverify.ParseCheckpoint([]byte(p.Checkpoint), k.LogKey)
	if err != nil {
		return nil, err
	}
	v.Checkpoint = cp
	open := func(what string, pe ProvedEntry) (*entry.Entry, error) {
		if err := logverify.VerifyInclusion(cp, pe.Index, pe.Entry, pe.InclusionProof); err != nil {
			return nil, fmt.Errorf("%s entry %d: %w", what, pe.Index, err)
		}
		e, err := entry.Open(pe.Entry, k.ServerKey)
		if err != nil {
			return nil, fmt.Errorf("%s entry %d: %w", what, pe.Index, err)
		}
		return e, nil
	}
	ve, err := open("validation", p.Validation)
	if err != nil {
		return nil, err
	}
	ke, err := open("passkey", p.Passkey)
	if err != nil {
		return nil, err
	}
	ce, err := open("certificate", p.Certificate)
	if err != nil {
		return nil, err
	}
	if ve.Validation == nil || ve.Validation.Signed == nil {
		return nil, forged("entry %d is not a validation signed by an auditor", p.Validation.Index)
	}
	if ke.Passkey == nil || ke.Passkey.Revoked {
		return nil, forged("entry %d is not a passkey registration", p.Passkey.Index)
	}
	if ce.Certificate == nil {
		return nil, forged("entry %d is not a certificate", p.Certificate.Index)
	}
	sv := ve.Validation.Signed
	st, err := ParseStatement(sv.Statement)
	if err != nil {
		return nil, forged("%v", err)
	}
	v.Statement, v.Passkey, v.Certificate = st, ke.Passkey, ce.Certificate.Envelope

	// The statement is about this certificate.
	c := ce.Certificate
	if st.CertificateID != c.CertificateID || st.CertificateLogIndex != p.Certificate.Index || st.EnvelopeSHA256 != c.EnvelopeSHA256 {
		return nil, forged("the statement names certificate %s at entry %d, the certificate entry is %s at %d", st.CertificateID, st.CertificateLogIndex, c.CertificateID, p.Certificate.Index)
	}
	stmt, err := attest.Decode(c.Envelope)
	if err != nil {
		return nil, err
	}
	if len(stmt.Subject) != 1 || stmt.Subject[0].Digest["sha256"] != st.SubjectDigest {
		return nil, forged("the statement's subject digest is not the certificate's")
	}
	if o.Certificate != nil {
		canon, err := entry.Canonical(o.Certificate)
		if err != nil {
			return nil, err
		}
		if !bytes.Equal(canon, c.Envelope) {
			return nil, forged("the validation is about another certificate than the one given")
		}
	}
	// The store's own summary of the entry says what was signed.
	if ve.Validation.CertificateID != st.CertificateID || ve.Validation.Decision != st.Decision || ve.Validation.Comment != st.Comment || ve.Subject != st.Auditor {
		return nil, forged("the log entry's decision, comment or auditor differs from the signed statement")
	}
	// The passkey belongs to the auditor and was registered before.
	if sv.PasskeyIndex != p.Passkey.Index {
		return nil, forged("the validation names passkey entry %d, the proof has %d", sv.PasskeyIndex, p.Passkey.Index)
	}
	if p.Passkey.Index >= p.Validation.Index {
		return nil, forged("the passkey was registered after the validation")
	}
	if ke.Passkey.User != st.Auditor {
		return nil, forged("the passkey belongs to %s, the statement is by %s", ke.Passkey.User, st.Auditor)
	}
	if o.Passkey != nil && (!bytes.Equal(o.Passkey.CredentialID, ke.Passkey.CredentialID) || !bytes.Equal(o.Passkey.PublicKey, ke.Passkey.PublicKey)) {
		return nil, forged("signed with passkey %s, not the pinned passkey %s of %s", short(ke.Passkey.CredentialID), short(o.Passkey.CredentialID), o.Passkey.User)
	}
	if err := VerifyAssertion(sv.Statement, sv.Assertion, ke.Passkey); err != nil {
		return nil, err
	}
	return v, nil
}

// LoadProof reads a proof file.
func LoadProof(path string) (*Proof, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var p Proof
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("%s is not a validation proof: %w", path, err)
	}
	return &p, nil
}

// ExportedKey is a passkey as its owner downloads it at registration, to
// pin it later (VerifyOptions.Passkey).
type ExportedKey struct {
	User         string `json:"user"`
	CredentialID []byte `json:"credentialId"`
	PublicKey    []byte `json:"publicKey"` // COSE_Key
	RPID         string `json:"rpId"`
	LogIndex     uint64 `json:"logIndex"`
}

// LoadExportedKey reads an exported passkey.
func LoadExportedKey(path string) (*entry.Passkey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var x ExportedKey
	if err := json.Unmarshal(b, &x); err != nil || len(x.CredentialID) == 0 || len(x.PublicKey) == 0 {
		return nil, fmt.Errorf("%s is not an exported passkey (%v)", path, err)
	}
	return &entry.Passkey{User: x.User, CredentialID: x.CredentialID, PublicKey: x.PublicKey, RPID: x.RPID}, nil
}
