package agent

import (
	"crypto/ed25519"

	"github.com/lethe-project/lethe/attest"
)

func signPayloadForTest(typ string, payload []byte, priv ed25519.PrivateKey) ([]byte, error) {
	return attest.SignPayload(typ, payload, attest.KeySigner{Key: priv})
}
