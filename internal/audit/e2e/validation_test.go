package e2e

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lethe-project/lethe/audit/client"
	"github.com/lethe-project/lethe/internal/audit/passkey/passkeytest"
	"github.com/lethe-project/lethe/internal/audit/totp"
	"github.com/lethe-project/lethe/internal/certtest"
)

// TestVerifyValidationOffline: an auditor of a real lethe audit serve
// registers a passkey and signs an approval through the API; `lethe audit
// verify-validation` checks the downloaded proof offline against the
// pinned log and server keys, the certificate and the auditor's exported
// passkey. A validation signed by another passkey registered later in the
// auditor's name, a proof with a changed comment, and a proof checked
// against another certificate all fail with exit 1.
func TestVerifyValidationOffline(t *testing.T) {
	ctx := context.Background()
	work := t.TempDir()
	data := filepath.Join(work, "audit")
	srv := startServer(t, data, "--backup-interval", "0")
	m := regexp.MustCompile(`web UI (https://\S+?)/,`).FindStringSubmatch(srv.StartLine)
	if m == nil {
		t.Fatalf("no web UI URL in %q", srv.StartLine)
	}
	origin := m[1]
	admin := srv.admin(t)
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	if _, err := admin.AddStationKey(ctx, "e2e", pub); err != nil {
		t.Fatal(err)
	}
	cert := certtest.MustSign(key, certtest.Drive{Serial: "VV-1", HostSerial: "H-VV", Job: "J-VV"})
	other := certtest.MustSign(key, certtest.Drive{Serial: "VV-2"})
	rc, err := srv.client(t, "").Submit(ctx, cert)
	if err != nil {
		t.Fatal(err)
	}
	certFile, otherFile := filepath.Join(work, "cert.json"), filepath.Join(work, "other.json")
	os.WriteFile(certFile, cert, 0o644)
	os.WriteFile(otherFile, other, 0o644)

	var created struct {
		TOTPSecret string `json:"totpSecret"`
	}
	if err := admin.Do(ctx, "POST", "/v1/admin/users", map[string]string{"name": "vera", "password": "Auditor-Pw1", "role": "auditor"}, &created); err != nil {
		t.Fatal(err)
	}
	otp, _ := totp.Code(created.TOTPSecret, time.Now())
	vera, err := srv.client(t, "").Login(ctx, "vera", "Auditor-Pw1", otp)
	if err != nil {
		t.Fatal(err)
	}
	register := func() *passkeytest.Authenticator {
		t.Helper()
		a := passkeytest.New(origin)
		var begin struct {
			Ceremony string          `json:"ceremony"`
			Options  json.RawMessage `json:"options"`
		}
		if err := vera.Do(ctx, "POST", "/v1/account/passkeys/begin", struct{}{}, &begin); err != nil {
			t.Fatal(err)
		}
		cred, err := a.Register(begin.Options)
		if err != nil {
			t.Fatal(err)
		}
		if err := vera.Do(ctx, "POST", "/v1/account/passkeys/finish", map[string]any{"ceremony": begin.Ceremony, "name": "e2e", "credential": json.RawMessage(cred)}, nil); err != nil {
			t.Fatal(err)
		}
		return a
	}
	validate := func(c *client.Client, a *passkeytest.Authenticator, decision, comment string) string {
		t.Helper()
		var begin struct {
			Ceremony string          `json:"ceremony"`
			Options  json.RawMessage `json:"options"`
		}
		if err := c.Do(ctx, "POST", "/v1/certificates/"+rc.CertificateID+"/validations/challenge", map[string]string{"decision": decision, "comment": comment}, &begin); err != nil {
			t.Fatal(err)
		}
		cred, err := a.Assert(begin.Options)
		if err != nil {
			t.Fatal(err)
		}
		var v struct {
			LogIndex uint64 `json:"logIndex"`
		}
		if err := c.Do(ctx, "POST", "/v1/certificates/"+rc.CertificateID+"/validations", map[string]any{"ceremony": begin.Ceremony, "credential": json.RawMessage(cred)}, &v); err != nil {
			t.Fatal(err)
		}
		var proof json.RawMessage
		if err := c.Do(ctx, "GET", "/v1/validations/"+strconv.FormatUint(v.LogIndex, 10)+"/proof", nil, &proof); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(work, "validation-"+strconv.FormatUint(v.LogIndex, 10)+".proof.json")
		os.WriteFile(p, proof, 0o644)
		return p
	}

	auth := register()
	var exported []json.RawMessage
	if err := vera.Do(ctx, "GET", "/v1/account/passkeys", nil, &exported); err != nil || len(exported) != 1 {
		t.Fatalf("exported passkeys: %v %d", err, len(exported))
	}
	pinFile := filepath.Join(work, "vera-passkey.json")
	os.WriteFile(pinFile, exported[0], 0o644)
	proof := validate(vera, auth, "approved", "evidence reviewed")

	keys := []string{"--log-key", filepath.Join(data, "keys", "log.vkey"), "--server-key", filepath.Join(data, "keys", "server.pub")}
	verify := func(args ...string) (string, int) {
		return run(t, append(append([]string{"audit", "verify-validation"}, keys...), args...)...)
	}
	out, code := verify("--cert", certFile, "--passkey", pinFile, proof)
	if code != 0 || !strings.Contains(out, "OK") || !strings.Contains(out, "vera approved certificate "+rc.CertificateID) {
		t.Fatalf("genuine validation: exit %d\n%s", code, out)
	}
	if out, code := verify("--cert", otherFile, proof); code != 1 || !strings.Contains(out, "another certificate") {
		t.Fatalf("checked against another certificate: exit %d\n%s", code, out)
	}
	// The comment changed in the file: the store's countersignature breaks.
	b, _ := os.ReadFile(proof)
	var p map[string]any
	json.Unmarshal(b, &p)
	if out, code := verify("--passkey", pinFile, forgeComment(t, work, p)); code != 1 || !strings.Contains(out, "FAIL") {
		t.Fatalf("changed comment: exit %d\n%s", code, out)
	}
	// A second passkey in vera's name signs: genuine for that key, but not
	// the one vera pinned.
	mallory := register()
	forged := validate(vera, mallory, "approved", "approved with another key")
	if out, code := verify("--passkey", pinFile, forged); code != 1 || !strings.Contains(out, "not the pinned passkey") {
		t.Fatalf("validation by another key: exit %d\n%s", code, out)
	}
}

// forgeComment writes a copy of a proof whose validation entry's payload
// says another comment (its countersignature no longer matches).
func forgeComment(t *testing.T, dir string, p map[string]any) string {
	t.Helper()
	v := p["validation"].(map[string]any)
	leaf, err := base64.StdEncoding.DecodeString(v["entry"].(string))
	if err != nil {
		t.Fatal(err)
	}
	var env map[string]any
	json.Unmarshal(leaf, &env)
	payload, _ := base64.StdEncoding.DecodeString(env["payload"].(string))
	changed := strings.ReplaceAll(string(payload), "evidence reviewed", "evidence skipped")
	if changed == string(payload) {
		t.Fatal("the comment is not in the entry")
	}
	env["payload"] = base64.StdEncoding.EncodeToString([]byte(changed))
	leaf, _ = json.Marshal(env)
	v["entry"] = leaf
	b, _ := json.Marshal(p)
	out := filepath.Join(dir, "forged.proof.json")
	os.WriteFile(out, b, 0o644)
	return out
}
