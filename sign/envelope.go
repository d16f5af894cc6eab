package sign

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
)

// Envelope is a DSSE envelope (payloadType, base64 payload, signatures).
type Envelope = dsse.Envelope

// Signature is one signature of an envelope (keyid, base64 sig).
type Signature = dsse.Signature

// MaxEnvelopeBytes bounds an envelope a reader accepts (certificates are a
// few kilobytes; receipts and configurations smaller).
const MaxEnvelopeBytes = 2 << 20

// Error lists everything wrong with an envelope.
type Error struct {
	Problems []string
}

func (e *Error) Error() string { return strings.Join(e.Problems, "; ") }

func problem(format string, args ...any) *Error {
	return &Error{[]string{fmt.Sprintf(format, args...)}}
}

// dsseSigner adapts a Signer to the DSSE library.
type dsseSigner struct{ s Signer }

func (d dsseSigner) Sign(_ context.Context, data []byte) ([]byte, error) { return d.s.Sign(data) }
func (d dsseSigner) KeyID() (string, error)                              { return d.s.KeyID(), nil }

// ed25519Verifier checks ed25519 signatures over the DSSE PAE.
type ed25519Verifier struct{ pub ed25519.PublicKey }

func (v ed25519Verifier) Verify(_ context.Context, data, sig []byte) error {
	if !ed25519.Verify(v.pub, data, sig) {
		return errors.New("ed25519 signature does not verify")
	}
	return nil
}
func (v ed25519Verifier) KeyID() (string, error)   { return KeyID(v.pub), nil }
func (v ed25519Verifier) Public() crypto.PublicKey { return v.pub }

// Seal signs payload as payloadType with every signer and returns the
// envelope.
func Seal(payloadType string, payload []byte, signers ...Signer) (*Envelope, error) {
	if len(signers) == 0 {
		return nil, errors.New("sign: no signing key")
	}
	ds := make([]dsse.Signer, len(signers))
	for i, s := range signers {
		ds[i] = dsseSigner{s}
	}
	es, err := dsse.NewEnvelopeSigner(ds...)
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	env, err := es.SignPayload(context.Background(), payloadType, payload)
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	return env, nil
}

// SignPayload seals payload and returns the envelope as compact JSON (the
// form the audit store's log entries take).
func SignPayload(payloadType string, payload []byte, signers ...Signer) ([]byte, error) {
	env, err := Seal(payloadType, payload, signers...)
	if err != nil {
		return nil, err
	}
	return json.Marshal(env)
}

// Decode parses an envelope strictly without checking any signature: for
// display of a file that did not verify, or to see which keys signed it.
func Decode(data []byte) (*Envelope, []byte, error) {
	if len(data) > MaxEnvelopeBytes {
		return nil, nil, problem("envelope is %d bytes, more than the %d lethe reads", len(data), MaxEnvelopeBytes)
	}
	if err := checkJSON(data); err != nil {
		return nil, nil, problem("not a DSSE envelope: %v", err)
	}
	if err := checkEnvelopeKeys(data); err != nil {
		return nil, nil, problem("not a DSSE envelope: %v", err)
	}
	var env Envelope
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&env); err != nil {
		return nil, nil, problem("not a DSSE envelope: %v", err)
	}
	payload, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		return nil, nil, problem("payload is not valid base64: %v", err)
	}
	return &env, payload, nil
}

// Opened is an envelope whose signature checked out.
type Opened struct {
	Envelope *Envelope
	Payload  []byte
	// KeyID is the trusted key that signed it (the first, if several).
	KeyID string
	// Signers are the IDs of every trusted key with a valid signature.
	Signers []string
}

// Open checks an envelope of the given payload type against trusted
// ed25519 keys: strict form, payload type, and at least one valid
// signature by one of the keys over DSSE's PAE. Problems are reported as
// an *Error naming what is wrong (altered after signing, signed by an
// untrusted key, wrong payload type, ...).
func Open(data []byte, payloadType string, keys ...ed25519.PublicKey) (*Opened, error) {
	env, payload, err := Decode(data)
	if err != nil {
		return nil, err
	}
	var problems []string
	if env.PayloadType != payloadType {
		problems = append(problems, fmt.Sprintf("payload type is %q, want %q", env.PayloadType, payloadType))
	}
	if len(env.Signatures) == 0 {
		problems = append(problems, "envelope has no signature")
	}
	if len(keys) == 0 {
		problems = append(problems, "no trusted public key given")
	}
	if len(problems) > 0 {
		return nil, &Error{problems}
	}
	vs := make([]dsse.Verifier, len(keys))
	for i, k := range keys {
		vs[i] = ed25519Verifier{k}
	}
	ev, err := dsse.NewEnvelopeVerifier(vs...)
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	accepted, err := ev.Verify(context.Background(), env)
	if err != nil || len(accepted) == 0 {
		return nil, &Error{[]string{signatureProblem(env, keys)}}
	}
	o := &Opened{Envelope: env, Payload: payload, KeyID: accepted[0].KeyID}
	for _, a := range accepted {
		o.Signers = append(o.Signers, a.KeyID)
	}
	return o, nil
}

// signatureProblem explains why no signature verified: signed by another
// key, or a signature that does not match the content.
func signatureProblem(env *Envelope, keys []ed25519.PublicKey) string {
	trusted := map[string]bool{}
	for _, k := range keys {
		trusted[KeyID(k)] = true
	}
	for _, s := range env.Signatures {
		if s.KeyID != "" && trusted[s.KeyID] {
			return fmt.Sprintf("signature by key %s does not match the content: the envelope was altered after signing", short(s.KeyID))
		}
	}
	var ids []string
	for _, s := range env.Signatures {
		ids = append(ids, short(s.KeyID))
	}
	return fmt.Sprintf("not signed by a trusted key (signed by %s)", strings.Join(ids, ", "))
}

func short(id string) string {
	if id == "" {
		return "an unnamed key"
	}
	if len(id) > 16 {
		return id[:16]
	}
	return id
}

// VerifyECDSA checks that an envelope carries a valid signature by pub, an
// ECDSA P-256 key (the TPM co-signer signs SHA-256 of the PAE, ASN.1 DER).
func VerifyECDSA(data []byte, pub *ecdsa.PublicKey) error {
	env, payload, err := Decode(data)
	if err != nil {
		return err
	}
	id := KeyID(pub)
	digest := sha256.Sum256(dsse.PAE(env.PayloadType, payload))
	for _, sig := range env.Signatures {
		if sig.KeyID != id {
			continue
		}
		raw, err := base64.StdEncoding.DecodeString(sig.Sig)
		if err != nil {
			return fmt.Errorf("signature by %.16s: %w", id, err)
		}
		if !ecdsa.VerifyASN1(pub, digest[:], raw) {
			return fmt.Errorf("signature by ECDSA key %.16s does not verify: the envelope was altered after signing", id)
		}
		return nil
	}
	return fmt.Errorf("no signature by ECDSA key %.16s", id)
}

// ReadFile reads a file of at most MaxEnvelopeBytes without reading more:
// a huge file is refused at once.
func ReadFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := readAtMost(f, MaxEnvelopeBytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return data, nil
}

func readAtMost(f *os.File, limit int64) ([]byte, error) {
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() && fi.Size() > limit {
		return nil, fmt.Errorf("%d bytes, more than the %d lethe reads", fi.Size(), limit)
	}
	var buf bytes.Buffer
	n, err := buf.ReadFrom(&limitedReader{f, limit + 1})
	if err != nil {
		return nil, err
	}
	if n > limit {
		return nil, fmt.Errorf("more than the %d bytes lethe reads", limit)
	}
	return buf.Bytes(), nil
}

type limitedReader struct {
	f *os.File
	n int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.f.Read(p)
	l.n -= int64(n)
	return n, err
}

// checkEnvelopeKeys requires the envelope's keys to be exactly DSSE's
// (encoding/json would also take "PAYLOAD" for "payload").
func checkEnvelopeKeys(data []byte) error {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return err
	}
	for k := range top {
		switch k {
		case "payloadType", "payload", "signatures":
		default:
			return fmt.Errorf("unknown field %q", k)
		}
	}
	var sigs []map[string]json.RawMessage
	if raw, ok := top["signatures"]; ok {
		if err := json.Unmarshal(raw, &sigs); err != nil {
			return fmt.Errorf("signatures: %w", err)
		}
	}
	for _, sg := range sigs {
		for k := range sg {
			if k != "keyid" && k != "sig" {
				return fmt.Errorf("unknown field %q in a signature", k)
			}
		}
	}
	return nil
}

// checkJSON refuses what lets two JSON readers see different envelopes:
// invalid UTF-8, duplicate keys and keys that differ only in case (the
// last wins in encoding/json, the first in others), and data after the
// value.
func checkJSON(data []byte) error {
	if !utf8.Valid(data) {
		return errors.New("invalid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := walk(dec); err != nil {
		return err
	}
	if _, err := dec.Token(); err == nil || !errors.Is(err, io.EOF) {
		return errors.New("data after the JSON value")
	}
	return nil
}

// walk consumes one JSON value from dec, checking object keys.
func walk(dec *json.Decoder) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	switch d {
	case '{':
		seen := map[string]string{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return err
			}
			k := kt.(string)
			f := fold(k)
			if prev, dup := seen[f]; dup {
				if prev == k {
					return fmt.Errorf("duplicate key %q", k)
				}
				return fmt.Errorf("keys %q and %q differ only in case", prev, k)
			}
			seen[f] = k
			if err := walk(dec); err != nil {
				return err
			}
		}
	case '[':
		for dec.More() {
			if err := walk(dec); err != nil {
				return err
			}
		}
	}
	_, err = dec.Token() // closing delimiter
	return err
}

// fold maps each rune to the smallest rune of its simple case folding
// orbit, so that keys encoding/json matches to one field fold alike.
func fold(k string) string {
	var b strings.Builder
	for _, r := range k {
		m := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			m = min(m, f)
		}
		b.WriteRune(m)
	}
	return b.String()
}

// SignerKeyIDs lists the key IDs an envelope's signatures name, without
// verifying anything, so that a verifier can look up which keys to try.
// A document that is not a valid envelope names none.
func SignerKeyIDs(data []byte) []string {
	env, _, err := Decode(data)
	if err != nil {
		return nil
	}
	ids := make([]string, 0, len(env.Signatures))
	for _, s := range env.Signatures {
		ids = append(ids, s.KeyID)
	}
	return ids
}
