package attest_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/lethe-project/lethe/attest"

	"github.com/lethe-project/lethe/cert"
	"github.com/lethe-project/lethe/internal/devices"
	"github.com/lethe-project/lethe/internal/station"
	"github.com/lethe-project/lethe/internal/wipe"
	"github.com/lethe-project/lethe/sign"
)

func testKey(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func testStatement(t *testing.T) *cert.Statement {
	t.Helper()
	d := &devices.Device{Path: "/dev/sdq", Name: "sdq", Kind: devices.KindDisk, Transport: devices.TransportSATA, // fixture: never opened
		Media: devices.MediaHDD, SizeBytes: 1 << 30, LogicalSectorSize: 512, PhysicalSectorSize: 4096, Rotational: true,
		Model: "WDC WD10EZEX-08WN4A0", Serial: "WD-WCC6Y0RJ3TNF", WWN: "naa.50014ee2b5a1c2d3", Firmware: "01.01A01"}
	start := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	rep := &wipe.Report{
		Status: wipe.StatusErased, StatusReason: "ok", Technique: wipe.TechOverwrite, Category: wipe.CategoryClear,
		Method:  wipe.Method{Name: "zero", Passes: []string{"zero"}},
		Started: start, Ended: start.Add(time.Hour),
		Passes: []wipe.PassReport{{Index: 1, Pattern: wipe.PatternSpec{Kind: "bytes", Name: "zero", Bytes: "00"},
			Started: start, Ended: start.Add(30 * time.Minute), BytesWritten: 1 << 30}},
		Verification: wipe.VerifyReport{Scope: "full", Pass: 1, Result: wipe.VerifyPassed, Bytes: 1 << 30, Coverage: 100},
	}
	st, err := station.NewStatement(station.CertInput{Device: d, Report: rep, Personnel: cert.Personnel{Operator: "A. Tech", Organization: "Example DC", Site: "FRA2"},
		Host: devices.HostIdentity{SystemSerial: "7XK2M53"}, Tool: cert.Tool{Name: "lethe", Version: "test"}})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func signed(t *testing.T, st *cert.Statement, k ed25519.PrivateKey) []byte {
	t.Helper()
	data, err := attest.Sign(st, sign.KeySigner{Key: k})
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func pub(k ed25519.PrivateKey) ed25519.PublicKey { return k.Public().(ed25519.PublicKey) }

func expectProblem(t *testing.T, data []byte, key ed25519.PublicKey, want string) {
	t.Helper()
	_, err := attest.Verify(data, key)
	if err == nil {
		t.Fatalf("verification passed; want a problem containing %q", want)
	}
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not contain %q", err, want)
	}
}

func TestSignVerify(t *testing.T) {
	k := testKey(t)
	st := testStatement(t)
	data := signed(t, st, k)
	v, err := attest.Verify(data, pub(k))
	if err != nil {
		t.Fatal(err)
	}
	if v.KeyID != sign.KeyID(pub(k)) || v.Statement.Predicate.Media.Serial != "WD-WCC6Y0RJ3TNF" || v.Statement.Predicate.Disposition != "reuse" {
		t.Fatalf("verified %+v", v.Statement.Predicate)
	}
	// The envelope is plain DSSE: payloadType, base64 payload, keyid + sig.
	var env map[string]any
	if err := json.Unmarshal(data, &env); err != nil {
		t.Fatal(err)
	}
	if env["payloadType"] != cert.PayloadType || len(env["signatures"].([]any)) != 1 {
		t.Fatalf("envelope %v", env)
	}
}

// mutatePayload decodes the payload, lets f change it, and re-encodes it
// without re-signing, as someone editing a certificate would.
func mutatePayload(t *testing.T, data []byte, f func(payload []byte) []byte) []byte {
	t.Helper()
	var env sign.Envelope
	if err := json.Unmarshal(data, &env); err != nil {
		t.Fatal(err)
	}
	p, _ := base64.StdEncoding.DecodeString(env.Payload)
	env.Payload = base64.StdEncoding.EncodeToString(f(p))
	out, _ := json.Marshal(env)
	return out
}

func TestTamperingDetected(t *testing.T) {
	k := testKey(t)
	data := signed(t, testStatement(t), k)

	t.Run("payload byte", func(t *testing.T) {
		bad := mutatePayload(t, data, func(p []byte) []byte {
			return bytes.Replace(p, []byte(`"status":"ERASED"`), []byte(`"status":"ERASEE"`), 1)
		})
		expectProblem(t, bad, pub(k), "altered after signing")
	})
	t.Run("serial changed", func(t *testing.T) {
		bad := mutatePayload(t, data, func(p []byte) []byte {
			return bytes.ReplaceAll(p, []byte("WD-WCC6Y0RJ3TNF"), []byte("WD-WCC6Y0RJ3TNG"))
		})
		expectProblem(t, bad, pub(k), "altered after signing")
	})
	t.Run("signature", func(t *testing.T) {
		var env sign.Envelope
		json.Unmarshal(data, &env)
		sig, _ := base64.StdEncoding.DecodeString(env.Signatures[0].Sig)
		sig[10] ^= 1
		env.Signatures[0].Sig = base64.StdEncoding.EncodeToString(sig)
		bad, _ := json.Marshal(env)
		expectProblem(t, bad, pub(k), "does not match the content")
	})
	t.Run("other key", func(t *testing.T) {
		expectProblem(t, data, pub(testKey(t)), "not signed by a trusted key")
	})
	t.Run("re-signed by other key", func(t *testing.T) {
		other := testKey(t)
		expectProblem(t, signed(t, testStatement(t), other), pub(k), "not signed by a trusted key")
	})
	t.Run("payload type", func(t *testing.T) {
		var env sign.Envelope
		json.Unmarshal(data, &env)
		env.PayloadType = "application/json"
		bad, _ := json.Marshal(env)
		_, err := attest.Verify(bad, pub(k))
		if err == nil || !strings.Contains(err.Error(), `payload type is "application/json"`) {
			t.Fatalf("payload type change: %v", err)
		}
	})
	t.Run("no signature", func(t *testing.T) {
		var env sign.Envelope
		json.Unmarshal(data, &env)
		env.Signatures = nil
		bad, _ := json.Marshal(env)
		expectProblem(t, bad, pub(k), "no signature")
	})
	t.Run("garbage", func(t *testing.T) {
		expectProblem(t, []byte("not json"), pub(k), "not a DSSE envelope")
		expectProblem(t, []byte(`{"payloadType":"x","payload":"!!!","signatures":[]}`), pub(k), "not valid base64")
		expectProblem(t, []byte(`{"payloadType":"x","payload":"","payload":"","signatures":[]}`), pub(k), "duplicate key")
	})
	t.Run("subject digest", func(t *testing.T) {
		// Signed by the right key, but the subject does not match the
		// identity in the predicate (a buggy or malicious producer).
		st := testStatement(t)
		st.Predicate.Identity.Serial = "OTHER"
		raw, _ := json.Marshal(st)
		env, err := signRaw(raw, k)
		if err != nil {
			t.Fatal(err)
		}
		expectProblem(t, env, pub(k), "subject digest")
	})
	t.Run("schema version", func(t *testing.T) {
		st := testStatement(t)
		st.Predicate.SchemaVersion = "99"
		raw, _ := json.Marshal(st)
		env, err := signRaw(raw, k)
		if err != nil {
			t.Fatal(err)
		}
		expectProblem(t, env, pub(k), `schema version "99" is newer than this lethe reads`)
	})
	t.Run("unknown field", func(t *testing.T) {
		st := testStatement(t)
		raw, _ := json.Marshal(st)
		raw = bytes.Replace(raw, []byte(`"schemaVersion"`), []byte(`"bonus":1,"schemaVersion"`), 1)
		env, err := signRaw(raw, k)
		if err != nil {
			t.Fatal(err)
		}
		expectProblem(t, env, pub(k), "unknown field")
	})
}

// signRaw signs arbitrary payload bytes with the DSSE PAE, for tests.
func signRaw(payload []byte, k ed25519.PrivateKey) ([]byte, error) {
	return sign.SignPayload(cert.PayloadType, payload, sign.KeySigner{Key: k})
}

func TestDeterministicJSON(t *testing.T) {
	st := testStatement(t)
	a, _ := json.Marshal(st)
	b, _ := json.Marshal(st)
	if !bytes.Equal(a, b) {
		t.Fatal("statement JSON not deterministic")
	}
	// Field names auditors and the audit store rely on.
	for _, f := range []string{`"_type":"https://in-toto.io/Statement/v1"`, `"predicateType":"` + cert.PredicateType + `"`,
		`"schemaVersion":"` + cert.SchemaVersion + `"`, `"certificateId"`, `"personnel":{"operator":"A. Tech"`, `"media":{`, `"identity":{`,
		`"sanitization":{"category":"clear","technique":"overwrite"`, `"verification":{"scope":"full"`, `"hiddenAreas"`,
		`"tool":{"name":"lethe"`, `"host":{"systemSerial":"7XK2M53"}`} {
		if !bytes.Contains(a, []byte(f)) {
			t.Errorf("statement JSON lacks %s", f)
		}
	}
}
