package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/lethe-project/lethe/cert"
	"github.com/lethe-project/lethe/internal/certtest"
)

// TestIngestRefusesAmbiguousJSON: a certificate signed with a trusted key
// whose payload holds "status":"PARTIAL" and "Status":"ERASED", or whose
// envelope holds two payloads, is refused: the store never logs a
// certificate two readers could read differently (issue 10, item 6).
func TestIngestRefusesAmbiguousJSON(t *testing.T) {
	ctx := context.Background()
	st, key := openWithStation(t, Config{Dir: t.TempDir(), Origin: "test.lethe/strict"})
	forged, err := certtest.CaseVariantStatus(certtest.Drive{Serial: "DUP-1"})
	if err != nil {
		t.Fatal(err)
	}
	// encoding/json alone would read ERASED from it.
	var lax cert.Statement
	if err := json.Unmarshal(forged, &lax); err != nil || lax.Predicate.Status != cert.StatusErased {
		t.Fatalf("the forgery does not fool a lax decoder (%v, %s): the test proves nothing", err, lax.Predicate.Status)
	}
	good := certtest.MustSign(key, certtest.Drive{Serial: "DUP-2"})
	var env map[string]json.RawMessage
	json.Unmarshal(good, &env)
	other := certtest.MustSign(key, certtest.Drive{Serial: "DUP-3"})
	var env2 map[string]json.RawMessage
	json.Unmarshal(other, &env2)
	twoPayloads := bytes.Replace(good, []byte(`"payload":`), []byte(`"payload":`+string(env2["payload"])+`,"payload":`), 1)
	for _, tc := range []struct {
		name, kind, want string
		data             []byte
	}{
		{"case-variant status", RejectSchema, `differ only in case`, certtest.SignPayload(key, forged)},
		{"duplicate status", RejectSchema, `duplicate key "status"`, certtest.SignPayload(key, bytes.Replace(forged, []byte(`"Status"`), []byte(`"status"`), 1))},
		{"two payloads", RejectMalformed, `duplicate`, twoPayloads},
	} {
		_, _, err := st.Ingest(ctx, Submission{Envelope: tc.data})
		var re *RejectError
		if !errors.As(err, &re) || re.Kind != tc.kind || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want a %s rejection naming %q", tc.name, err, tc.kind, tc.want)
		}
	}
	if _, _, err := st.Ingest(ctx, Submission{Envelope: good}); err != nil {
		t.Fatalf("the unaltered certificate: %v", err)
	}
}
