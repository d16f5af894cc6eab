package attest

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
)

func TestSignVerifyPayload(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	other, _, _ := ed25519.GenerateKey(rand.Reader)
	env, err := SignPayload("application/x-test", []byte(`{"a":1}`), KeySigner{priv})
	if err != nil {
		t.Fatal(err)
	}
	p, id, err := VerifyPayload(env, "application/x-test", other, pub)
	if err != nil || string(p) != `{"a":1}` || id != KeyID(pub) {
		t.Fatalf("VerifyPayload = %q, %s, %v", p, id, err)
	}
	ids, err := SignatureKeyIDs(env)
	if err != nil || len(ids) != 1 || ids[0] != KeyID(pub) {
		t.Fatalf("SignatureKeyIDs = %v, %v", ids, err)
	}
	var ve *VerifyError
	if _, _, err := VerifyPayload(env, "application/x-other", pub); !errors.As(err, &ve) {
		t.Fatalf("wrong payload type accepted: %v", err)
	}
	if _, _, err := VerifyPayload(env, "application/x-test", other); err == nil || !strings.Contains(err.Error(), "not signed by a trusted key") {
		t.Fatalf("unknown key: %v", err)
	}
	tampered := strings.Replace(string(env), `"payload":"`, `"payload":"AA`, 1)
	if _, _, err := VerifyPayload([]byte(tampered), "application/x-test", pub); err == nil {
		t.Fatal("tampered payload accepted")
	}
}
