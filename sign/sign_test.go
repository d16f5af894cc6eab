package sign

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
)

func TestSealOpen(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	other, _, _ := ed25519.GenerateKey(rand.Reader)
	env, err := SignPayload("application/x-test", []byte(`{"a":1}`), KeySigner{priv})
	if err != nil {
		t.Fatal(err)
	}
	o, err := Open(env, "application/x-test", other, pub)
	if err != nil || string(o.Payload) != `{"a":1}` || o.KeyID != KeyID(pub) || len(o.Signers) != 1 {
		t.Fatalf("Open = %+v, %v", o, err)
	}
	var se *Error
	if _, err := Open(env, "application/x-other", pub); !errors.As(err, &se) || !strings.Contains(err.Error(), `payload type is "application/x-test"`) {
		t.Fatalf("wrong payload type: %v", err)
	}
	if _, err := Open(env, "application/x-test", other); err == nil || !strings.Contains(err.Error(), "not signed by a trusted key") {
		t.Fatalf("unknown key: %v", err)
	}
	tampered := strings.Replace(string(env), `"payload":"`, `"payload":"AAAA`, 1)
	if _, err := Open([]byte(tampered), "application/x-test", pub); err == nil || !strings.Contains(err.Error(), "altered after signing") {
		t.Fatalf("tampered payload: %v", err)
	}
}

// Envelopes that two JSON readers could read differently are refused
// before any signature is looked at.
func TestDecodeStrict(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	good, _ := SignPayload("application/x-test", []byte(`{"a":1}`), KeySigner{priv})
	forged := base64.StdEncoding.EncodeToString([]byte(`{"a":2}`))
	for name, tc := range map[string]struct {
		data []byte
		want string
	}{
		"duplicate payload":  {[]byte(strings.Replace(string(good), `"payload":`, `"payload":"`+forged+`","payload":`, 1)), "duplicate key"},
		"case variant":       {[]byte(strings.Replace(string(good), `"payload":`, `"Payload":"`+forged+`","payload":`, 1)), "differ only in case"},
		"key in wrong case":  {[]byte(strings.Replace(string(good), `"payload":`, `"PAYLOAD":`, 1)), "unknown field"},
		"unknown field":      {[]byte(strings.Replace(string(good), `"payload":`, `"x":1,"payload":`, 1)), "unknown field"},
		"trailing data":      {append(append([]byte{}, good...), []byte(` {"payload":"`+forged+`"}`)...), "data after"},
		"invalid UTF-8":      {[]byte(strings.Replace(string(good), `"payloadType":"application/x-test"`, "\"payloadType\":\"application/x-\xff\"", 1)), "invalid UTF-8"},
		"signature dup keys": {[]byte(strings.Replace(string(good), `"keyid":`, `"keyid":"x","keyid":`, 1)), "duplicate key"},
		"not JSON":           {[]byte("nope"), "not a DSSE envelope"},
		"bad base64":         {[]byte(`{"payloadType":"x","payload":"!!","signatures":[]}`), "not valid base64"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, _, err := Decode(tc.data); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Decode: %v, want %q", err, tc.want)
			}
		})
	}
	if _, _, err := Decode(good); err != nil {
		t.Fatalf("good envelope: %v", err)
	}
}

func TestVerifyECDSA(t *testing.T) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	env, _ := Seal("application/x-test", []byte(`{}`), KeySigner{ed})
	digest := sha256.Sum256(dsse.PAE(env.PayloadType, []byte(`{}`)))
	sig, _ := ecdsa.SignASN1(rand.Reader, k, digest[:])
	env.Signatures = append(env.Signatures, Signature{KeyID: KeyID(&k.PublicKey), Sig: base64.StdEncoding.EncodeToString(sig)})
	data, _ := json.Marshal(env)
	if err := VerifyECDSA(data, &k.PublicKey); err != nil {
		t.Fatal(err)
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err := VerifyECDSA(data, &other.PublicKey); err == nil || !strings.Contains(err.Error(), "no signature by ECDSA key") {
		t.Fatalf("other key: %v", err)
	}
	env.Payload = base64.StdEncoding.EncodeToString([]byte(`{"x":1}`))
	bad, _ := json.Marshal(env)
	if err := VerifyECDSA(bad, &k.PublicKey); err == nil || !strings.Contains(err.Error(), "altered") {
		t.Fatalf("altered: %v", err)
	}
}

// A huge file is refused without being read into memory.
func TestReadFileCap(t *testing.T) {
	p := filepath.Join(t.TempDir(), "big.json")
	f, _ := os.Create(p)
	f.Truncate(200 << 20)
	f.Close()
	if _, err := ReadFile(p); err == nil || !strings.Contains(err.Error(), "more than") {
		t.Fatalf("ReadFile of 200 MB: %v", err)
	}
	os.WriteFile(p, bytes.Repeat([]byte("x"), 100), 0o644)
	if b, err := ReadFile(p); err != nil || len(b) != 100 {
		t.Fatalf("small file: %d %v", len(b), err)
	}
}

func TestKeysPEM(t *testing.T) {
	dir := t.TempDir()
	keyPath, pubPath, err := GenerateKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(keyPath); st.Mode().Perm() != 0o600 {
		t.Fatalf("private key mode %v, want 0600", st.Mode().Perm())
	}
	k, err := LoadPrivateKey(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	p, err := LoadPublicKey(pubPath)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Equal(k.Public()) {
		t.Fatal("public key does not match private key")
	}
	if _, _, err := GenerateKey(dir); err == nil {
		t.Fatal("GenerateKey overwrote an existing key")
	}
	if _, err := LoadPublicKey(keyPath); err == nil {
		t.Fatal("private key accepted as public key")
	}
	// Standard tools read the keys, and agree on the key ID.
	if _, err := exec.LookPath("openssl"); err == nil {
		if out, err := exec.Command("openssl", "pkey", "-in", keyPath, "-noout", "-text").CombinedOutput(); err != nil || !bytes.Contains(out, []byte("ED25519")) {
			t.Fatalf("openssl cannot read the private key: %v %s", err, out)
		}
		der, err := exec.Command("openssl", "pkey", "-pubin", "-in", pubPath, "-outform", "DER").Output()
		if err != nil {
			t.Fatal(err)
		}
		sum, _ := exec.Command("sh", "-c", "openssl pkey -pubin -in "+pubPath+" -outform DER | sha256sum").Output()
		if len(der) != 44 || !strings.HasPrefix(string(sum), KeyID(p)) {
			t.Fatalf("key ID %s is not sha256 of the PKIX DER (%s)", KeyID(p), sum)
		}
	}
	os.WriteFile(filepath.Join(dir, "rsa.pem"), []byte("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"), 0o644)
	if _, err := LoadPublicKey(filepath.Join(dir, "rsa.pem")); err == nil {
		t.Fatal("garbage public key accepted")
	}
}
