package entry

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzCanonical: canonicalization accepts only envelopes, and is a fixed
// point, so a certificate has exactly one digest however it is formatted.
func FuzzCanonical(f *testing.F) {
	f.Add([]byte(`{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[{"keyid":"k","sig":"c2ln"}]}`))
	f.Add([]byte("{\n  \"payload\": \"e30=\",\n  \"payloadType\": \"x\",\n  \"signatures\": []\n}"))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"payload":"not base64!"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Canonical(data)
		if err != nil {
			return
		}
		c2, err := Canonical(c)
		if err != nil || !bytes.Equal(c, c2) {
			t.Fatalf("not a fixed point: %q -> %q (%v)", c, c2, err)
		}
		var ind bytes.Buffer
		if json.Indent(&ind, c, "", "  ") == nil {
			if c3, err := Canonical(ind.Bytes()); err != nil || !bytes.Equal(c, c3) {
				t.Fatalf("indentation changed the canonical form")
			}
		}
	})
}
