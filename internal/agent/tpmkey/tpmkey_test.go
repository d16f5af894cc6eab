package tpmkey

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"strings"
	"testing"

	"github.com/lethe-project/lethe/cert"
	"github.com/lethe-project/lethe/sign"

	"github.com/google/go-tpm/tpm2/transport/linuxudstpm"

	"github.com/lethe-project/lethe/internal/swtpm"
)

func open(t *testing.T, dir string) (*Signer, *swtpm.TPM) {
	t.Helper()
	tp := swtpm.Start(t, dir, false)
	tr, err := linuxudstpm.Open(tp.Server)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(tr)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s, tp
}

// TestSignWithSwtpm signs a certificate-shaped envelope with the TPM key
// and an ed25519 key, as the agent does, and checks both signatures, the
// key's stability across TPM restarts, and that tampering is detected.
func TestSignWithSwtpm(t *testing.T) {
	state := t.TempDir()
	s, tp := open(t, state)
	if s.Hierarchy() != "owner" {
		t.Errorf("hierarchy %s, want owner (swtpm has no owner password)", s.Hierarchy())
	}
	pub, err := ParsePublicKey([]byte(s.PublicPEM()))
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := KeyID(pub); id != s.KeyID() || len(id) != 64 {
		t.Errorf("key ID %q vs %q", id, s.KeyID())
	}
	_, boot, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	payload := []byte(`{"hello":"world"}`)
	env, err := sign.SignPayload(cert.PayloadType, payload, sign.KeySigner{Key: boot}, s)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyEnvelope(env, pub); err != nil {
		t.Errorf("TPM signature: %v", err)
	}
	// The ed25519 signature verifies too: a verifier that only knows the
	// per-boot key skips the TPM's signature.
	if _, err := sign.Open(env, cert.PayloadType, boot.Public().(ed25519.PublicKey)); err != nil {
		t.Errorf("ed25519 signature next to the TPM's: %v", err)
	}
	// Tampering: change the payload, keep the signatures.
	var m map[string]any
	json.Unmarshal(env, &m)
	m["payload"] = "eyJoZWxsbyI6Im1vb24ifQ=="
	bad, _ := json.Marshal(m)
	if err := VerifyEnvelope(bad, pub); err == nil || !strings.Contains(err.Error(), "altered") {
		t.Errorf("altered payload: %v", err)
	}
	firstID := s.KeyID()
	s.Close()
	tp.Stop()

	// The same TPM state (a reboot of the same machine) gives the same key;
	// another TPM gives another.
	again, _ := open(t, state)
	defer again.Close()
	if again.KeyID() != firstID {
		t.Errorf("key changed across restarts: %s then %s", firstID, again.KeyID())
	}
	other, _ := open(t, "")
	defer other.Close()
	if other.KeyID() == firstID {
		t.Error("two TPMs derived the same key")
	}
	if err := VerifyEnvelope(env, other.Public().(*ecdsa.PublicKey)); err == nil {
		t.Error("another TPM's key verified the signature")
	}
}
