package cert

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// payloadOf reads a vector's payload without verifying it.
func payloadOf(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var env struct {
		Payload string `json:"payload"`
	}
	if err := json.Unmarshal(data, &env); err != nil {
		t.Fatal(err)
	}
	p, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// The digest is over the identity's own bytes: an identity without a field
// a later version adds keeps its digest, and a field a newer writer adds is
// covered by it for every reader.
func TestDigestOverTheIdentityAsWritten(t *testing.T) {
	without := []byte(`{"vendor":"","model":"M","serial":"S","wwn":"","firmware":"F","transport":"nvme","sizeBytes":42}`)
	with := []byte(`{"vendor":"","model":"M","serial":"S","wwn":"","firmware":"F","transport":"nvme","sizeBytes":42,"futureField":"x"}`)
	reordered := []byte(`{"sizeBytes":42,"transport":"nvme","firmware":"F","wwn":"","serial":"S","model":"M","vendor":""}`)
	a, _ := digestIdentityJSON(without)
	b, _ := digestIdentityJSON(with)
	c, _ := digestIdentityJSON(reordered)
	if a == b {
		t.Fatal("a field added to the identity is not covered by the digest")
	}
	if a != c {
		t.Fatal("member order changes the digest")
	}
	id := Identity{Model: "M", Serial: "S", Firmware: "F", Transport: TransportNVMe, SizeBytes: 42}
	if d, _ := SubjectDigest(id); d != a {
		t.Fatalf("the writer's digest %s differs from the reader's %s", d, a)
	}
	// A reader decodes the identity into its struct only to show it; the
	// digest must not come from a re-encoding, which would drop the field.
	st := &Statement{rawIdentity: with}
	st.Predicate.Identity = id
	var v validator
	st.Subject = []Subject{{Name: "x", Digest: map[string]string{"sha256": b}}}
	st.Predicate.SchemaVersion = "1"
	v.subject(st)
	if len(v.problems) != 0 {
		t.Fatalf("digest over the identity as written rejected: %v", v.problems)
	}
}

// Schema 1 writers hashed encoding/json's form, which escapes U+2028 and
// U+2029 where RFC 8785 does not: such a certificate keeps verifying, and
// only under schema 1.
func TestLegacyDigestU2028(t *testing.T) {
	p := payloadOf(t, "v1/escapes-legacy-u2028.cert.json")
	st, err := Parse(p)
	if err != nil {
		t.Fatal(err)
	}
	jcs, _ := digestIdentityJSON(st.rawIdentity)
	legacy, _ := legacyDigestIdentityJSON(st.rawIdentity)
	got := st.Subject[0].Digest["sha256"]
	if jcs == legacy || got != legacy {
		t.Fatalf("the vector should carry the legacy digest: subject %s, RFC 8785 %s, legacy %s", got, jcs, legacy)
	}
	if err := st.Validate(); err != nil {
		t.Fatalf("schema 1 certificate with the legacy digest: %v", err)
	}
	st.Predicate.SchemaVersion = "2"
	KnownVersions = append(KnownVersions, "2")
	defer func() { KnownVersions = KnownVersions[:len(KnownVersions)-1] }()
	if err := st.Validate(); err == nil || !strings.Contains(err.Error(), "subject digest") {
		t.Fatalf("a later schema accepted the legacy digest: %v", err)
	}
}
