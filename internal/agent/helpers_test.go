package agent

import (
	"crypto/ed25519"

	"github.com/lethe-project/lethe/sign"
)

func signPayloadForTest(typ string, payload []byte, priv ed25519.PrivateKey) ([]byte, error) {
	return sign.SignPayload(typ, payload, sign.KeySigner{Key: priv})
}
