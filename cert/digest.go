package cert

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
)

// SubjectDigest is the hex SHA-256 of the RFC 8785 canonical JSON of id:
// the certificate's subject digest.
func SubjectDigest(id Identity) (string, error) {
	raw, err := json.Marshal(id)
	if err != nil {
		return "", fmt.Errorf("subject digest: %w", err)
	}
	return digestIdentityJSON(raw)
}

// digestIdentityJSON digests an identity as it appears in a payload. A
// verifier hashes the identity's own bytes, never a re-encoding through
// its struct: a field a newer writer adds is then part of the digest for
// every reader, and an identity without it keeps its digest.
func digestIdentityJSON(raw []byte) (string, error) {
	c, err := Canonicalize(raw)
	if err != nil {
		return "", fmt.Errorf("subject digest: identity is not canonicalizable JSON: %w", err)
	}
	sum := sha256.Sum256(c)
	return hex.EncodeToString(sum[:]), nil
}

// legacyDigestIdentityJSON is the subject digest schema 1 writers (lethe
// before the cert package) computed: the identity re-encoded by
// encoding/json with sorted keys and HTML escaping off. It equals the RFC
// 8785 digest except for identities holding U+2028 or U+2029, which
// encoding/json escapes and RFC 8785 does not; schema 1 certificates with
// such identities keep verifying through it.
func legacyDigestIdentityJSON(raw []byte) (string, error) {
	var generic any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&generic); err != nil {
		return "", err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(generic); err != nil {
		return "", err
	}
	sum := sha256.Sum256(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
	return hex.EncodeToString(sum[:]), nil
}
