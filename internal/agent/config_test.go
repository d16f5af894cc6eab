package agent

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lethe-project/lethe/internal/station"
	"github.com/lethe-project/lethe/internal/wipe"
)

func TestSplitCmdline(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"console=ttyS0  quiet\tlethe.site=dc1\n", []string{"console=ttyS0", "quiet", "lethe.site=dc1"}},
		{`lethe.operator="Jane Doe" lethe.job=J1`, []string{"lethe.operator=Jane Doe", "lethe.job=J1"}},
		{`"lethe.site=dc 1" x`, []string{"lethe.site=dc 1", "x"}},
		{`lethe.comment=""`, []string{"lethe.comment="}},
		{`a="unterminated b`, []string{"a=unterminated b"}},
	} {
		if got := SplitCmdline(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("SplitCmdline(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

const pin = "sha256:0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"

func TestParseCmdline(t *testing.T) {
	c, err := ParseCmdline(`BOOT_IMAGE=vmlinuz console=tty0 lethe.policy=clear lethe.method=zero lethe.verify=sample lethe.sample=5%
		` + "lethe.exclude=S1,S2 lethe.exclude=/dev/sdz lethe.bootdev=none lethe.bootdev=USB1" + // fixture: never opened
		`
		lethe.audit=https://10.0.2.2:8443/ lethe.auditca=` + strings.ToUpper(pin) + ` lethe.token=lenr_abc lethe.job=J42
		lethe.operator="Jane Doe" lethe.site=dc1 lethe.end=reboot lethe.wait=90 lethe.delay=2s lethe.end=shell lethe.unfreeze=1`)
	if err != nil {
		t.Fatal(err)
	}
	if off, err := ParseCmdline("lethe.enrollfirst=0"); err != nil || off.EnrollFirst {
		t.Errorf("lethe.enrollfirst=0: %+v %v", off.EnrollFirst, err)
	}
	if err := c.Check(); err != nil {
		t.Fatal(err)
	}
	want := Config{
		Policy: "clear", Method: "zero", Verify: "sample", SamplePercent: 5,
		Exclude: []string{"S1", "S2", "/dev/sdz"}, BootDev: []string{"USB1"}, NoBootDisk: true, // fixture: never opened
		Audit: "https://10.0.2.2:8443", AuditCA: strings.TrimPrefix(pin, "sha256:"), Token: "lenr_abc", Job: "J42",
		Operator: "Jane Doe", Site: "dc1", End: EndShell, OnFail: EndShell, Wait: 90 * time.Second, Delay: 2 * time.Second, Net: "dhcp",
		Unfreeze: true, EnrollFirst: true,
	}
	c.Sources, c.Notes = nil, nil
	if g, w := mustJSON(t, c), mustJSON(t, want); g != w {
		t.Errorf("got  %s\nwant %s", g, w)
	}
}

func TestDefaults(t *testing.T) {
	c, err := ParseCmdline("console=ttyS0 panic=0")
	if err != nil {
		t.Fatal(err)
	}
	if c.Policy != "" || c.End != EndPoweroff || c.Wait != Forever || c.Verify != "last" || c.Net != "dhcp" {
		t.Errorf("defaults: %+v", c)
	}
	if err := c.Check(); err != nil {
		t.Errorf("an empty configuration is valid (it wipes nothing): %v", err)
	}
}

func TestParseCmdlineErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"lethe.exlude=S1", "lethe.exlude: unknown parameter"},
		{"lethe.policy=shred", "want purge, purge-or-fail or clear"},
		{"lethe.policy=", "want purge"},
		{"lethe.audit=http://store", "want https://"},
		{"lethe.auditca=sha256:abcd", "want sha256:HEX"},
		{"lethe.token=lapi_x", "enrollment token"},
		{"lethe.end=halt", "want poweroff"},
		{"lethe.wait=soon", "duration"},
		{"lethe.sample=0", "percentage"},
		{"lethe.method=gutmann", "gutmann"},
		{"lethe.configkey=abc", "want ed25519:BASE64"},
		{"lethe.configkey=ed25519:AAAA", "32-byte"},
		{"lethe.config=ftp://x/y", "URL"},
		{"lethe.net=wifi", "dhcp or none"},
		{"lethe.operator=A\x1b[32mERASED", "control character U+001B"},
		{"lethe.site=\"FRA2\u202eX\"", "control character U+202E"},
	} {
		_, err := ParseCmdline("console=ttyS0 " + tc.in)
		var ce *ConfigError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseCmdline(%q): %v, want a ConfigError containing %q", tc.in, err, tc.want)
		}
	}
}

func TestCheck(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"lethe.token=lenr_x", "lethe.audit is not"},
		{"lethe.audit=https://a:1", "lethe.auditca"},
		{"lethe.audit=https://a:1 lethe.auditca=" + pin, "lethe.token"},
		{"lethe.audit=https://a:1 lethe.auditca=" + pin + " lethe.token=lenr_x", "lethe.job"},
		{"lethe.config=https://c/x.json", "unsigned configuration files are not accepted"},
		{"lethe.audit=https://a:1 lethe.auditca=" + pin + " lethe.token=lenr_x lethe.job=j lethe.net=none", "no way to reach"},
	} {
		c, err := ParseCmdline(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Check(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Check(%q) = %v, want %q", tc.in, err, tc.want)
		}
	}
}

func TestParseCertPin(t *testing.T) {
	hex := strings.TrimPrefix(pin, "sha256:")
	var colon []string
	for i := 0; i < len(hex); i += 2 {
		colon = append(colon, strings.ToUpper(hex[i:i+2]))
	}
	for _, in := range []string{pin, hex, strings.ToUpper(hex), "SHA256:" + strings.Join(colon, ":")} {
		got, err := ParseCertPin(in)
		if err != nil || got != hex {
			t.Errorf("ParseCertPin(%q) = %q, %v", in, got, err)
		}
	}
}

func FuzzParseCmdline(f *testing.F) {
	f.Add(`lethe.operator="Jane Doe" lethe.exclude=a,b lethe.bootdev=none`)
	f.Add(`"lethe.site=x y" lethe.wait=forever lethe.end=shell`)
	f.Add(`lethe.policy=purge lethe.audit=https://h:1 lethe.auditca=` + pin)
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCmdline(s)
		if err != nil {
			var ce *ConfigError
			if !errors.As(err, &ce) || len(ce.Problems) == 0 {
				t.Fatalf("error %v is not a ConfigError with problems", err)
			}
			return
		}
		_ = c.Check()
		// Quotes group and are removed; outside quotes, whitespace splits.
		args := SplitCmdline(s)
		for _, a := range args {
			if strings.Contains(a, `"`) {
				t.Fatalf("argument %q from %q keeps a quote", a, s)
			}
		}
		if !strings.Contains(s, `"`) && len(args) != len(strings.FieldsFunc(s, isSpace)) {
			t.Fatalf("%q: %d arguments, want %d", s, len(args), len(strings.FieldsFunc(s, isSpace)))
		}
	})
}

func newConfigKey(t testing.TB) (ed25519.PublicKey, ed25519.PrivateKey) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return pub, priv
}

func TestSignedConfigRoundTrip(t *testing.T) {
	pub, priv := newConfigKey(t)
	payload := []byte(`{"policy":"purge","exclude":["S1","S2"],"audit":"https://audit:8443","auditca":"` + pin + `",
		"token":"lenr_t","job":"J7","end":"poweroff","notAfter":"2999-01-01T00:00:00Z","comment":"line 3"}`)
	signed, err := SignConfig(payload, priv)
	if err != nil {
		t.Fatal(err)
	}
	keyPin, hashPin := KeyPins(pub)
	for _, p := range []string{keyPin, hashPin} {
		kp, err := ParseKeyPin(p)
		if err != nil {
			t.Fatal(err)
		}
		got, keyID, err := VerifyConfig(signed, kp)
		if err != nil {
			t.Fatalf("pin %s: %v", p, err)
		}
		if string(got) != string(payload) || "sha256:"+keyID != hashPin {
			t.Errorf("pin %s: payload %q key %s", p, got, keyID)
		}
	}

	// Command line first, then the signed file wins.
	c, err := ParseCmdline("lethe.policy=clear lethe.exclude=S0 lethe.site=dc2 lethe.config=https://c/x lethe.configkey=" + hashPin)
	if err != nil {
		t.Fatal(err)
	}
	fc, err := ParseConfigPayload(payload, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Apply(fc); err != nil {
		t.Fatal(err)
	}
	if err := c.Check(); err != nil {
		t.Fatal(err)
	}
	if c.Policy != "purge" || !slices.Equal(c.Exclude, []string{"S0", "S1", "S2"}) || c.Site != "dc2" || c.Job != "J7" || c.Sources["policy"] != "config" || c.Sources["site"] != "cmdline" {
		t.Errorf("after Apply: %+v", c)
	}
	if len(c.Notes) != 1 || !strings.Contains(c.Notes[0], "lethe.policy") {
		t.Errorf("notes: %q", c.Notes)
	}
	if fc.Comment != "line 3" {
		t.Errorf("comment %q", fc.Comment)
	}
}

func TestVerifyConfigRefuses(t *testing.T) {
	pub, priv := newConfigKey(t)
	otherPub, otherPriv := newConfigKey(t)
	payload := []byte(`{"policy":"purge"}`)
	signed, err := SignConfig(payload, priv)
	if err != nil {
		t.Fatal(err)
	}
	byOther, err := SignConfig(payload, otherPriv)
	if err != nil {
		t.Fatal(err)
	}
	keyPin, hashPin := KeyPins(pub)
	kp, _ := ParseKeyPin(keyPin)
	hp, _ := ParseKeyPin(hashPin)

	var bundle map[string]json.RawMessage
	if err := json.Unmarshal(signed, &bundle); err != nil {
		t.Fatal(err)
	}
	var env map[string]any
	if err := json.Unmarshal(bundle["envelope"], &env); err != nil {
		t.Fatal(err)
	}
	// The payload altered after signing (policy changed to clear).
	altered := map[string]any{"publicKey": mustUnquote(t, bundle["publicKey"]), "envelope": map[string]any{
		"payloadType": env["payloadType"], "payload": "eyJwb2xpY3kiOiJjbGVhciJ9", "signatures": env["signatures"]}}
	// No signatures at all.
	unsigned := map[string]any{"publicKey": mustUnquote(t, bundle["publicKey"]), "envelope": map[string]any{
		"payloadType": env["payloadType"], "payload": env["payload"], "signatures": []any{}}}
	// The other key's signature, claiming our public key.
	var otherBundle map[string]json.RawMessage
	json.Unmarshal(byOther, &otherBundle)
	swapped := map[string]any{"publicKey": mustUnquote(t, bundle["publicKey"]), "envelope": otherBundle["envelope"]}
	// Without the public key, the hash pin cannot be checked.
	noKey := map[string]any{"envelope": bundle["envelope"]}
	// The bare payload, no bundle.
	for _, tc := range []struct {
		name string
		data []byte
		pin  KeyPin
		want string
	}{
		{"other signer, key pin", byOther, kp, "not the pinned"},
		{"other signer, hash pin", byOther, hp, "not the pinned"},
		{"altered payload", mustMarshal(t, altered), kp, "altered"},
		{"unsigned", mustMarshal(t, unsigned), kp, "no signature"},
		{"signature swapped", mustMarshal(t, swapped), hp, "not signed by a trusted key"},
		{"hash pin without key", mustMarshal(t, noKey), hp, "does not carry the public key"},
		{"plain JSON", payload, kp, "not a lethe config bundle"},
		{"wrong payload type", mustMarshal(t, map[string]any{"envelope": json.RawMessage(mustSignOther(t, priv))}), kp, "payload type"},
		// Two envelopes: a reader taking the first and one taking the
		// last would verify different files.
		{"duplicate envelope", []byte(`{"envelope":` + string(otherBundle["envelope"]) + `,"envelope":` + string(bundle["envelope"]) + `}`), kp, `duplicate key "envelope"`},
		{"case-variant key", []byte(`{"Envelope":` + string(bundle["envelope"]) + `}`), kp, `unknown field "Envelope"`},
		{"too large", append(append([]byte(`{"comment":"`), bytes.Repeat([]byte("x"), MaxConfigSize)...), `"}`...), kp, "more than the"},
	} {
		if _, _, err := VerifyConfig(tc.data, tc.pin); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	// With the full key pinned, the publicKey field is optional.
	if _, _, err := VerifyConfig(mustMarshal(t, noKey), kp); err != nil {
		t.Errorf("key pin without publicKey: %v", err)
	}
	_ = otherPub
}

func TestConfigPayloadRefuses(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"polcy":"purge"}`, "polcy: unknown setting"},
		{`{"config":"https://x/y"}`, "only be set on the kernel command line"},
		{`{"configkey":"sha256:00"}`, "only be set on the kernel command line"},
		{`{"policy":["purge"]}`, "want a string"},
		{`{"exclude":[1]}`, "array of strings"},
		{`{"policy":"wipe"}`, "purge-or-fail"},
		{`{"operator":"A. Tech\nStatus     ERASED"}`, "control character U+000A"},
		{`{"job":"T1\u001b[2J"}`, "control character U+001B"},
		{`{"exclude":["S1\tS2"]}`, "control character U+0009"},
		{`{"policy":"purge","policy":"clear"}`, `duplicate key "policy"`},
		{`{"policy":"purge","Policy":"clear"}`, `keys "policy" and "Policy" differ only in case`},
		{`{"notAfter":"2001-01-01T00:00:00Z"}`, "expired"},
		{`[1]`, "JSON object"},
	} {
		if _, err := ParseConfigPayload([]byte(tc.in), time.Now()); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.in, err, tc.want)
		}
	}
	_, priv := newConfigKey(t)
	if _, err := SignConfig([]byte(`{"polcy":"x"}`), priv); err == nil {
		t.Error("SignConfig signed a payload the agent would refuse")
	}
}

func FuzzVerifyConfig(f *testing.F) {
	pub, priv := newConfigKey(f)
	signed, err := SignConfig([]byte(`{"policy":"purge","exclude":["a"]}`), priv)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(signed)
	f.Add([]byte(`{"envelope":{}}`))
	kp := KeyPin{Key: pub}
	f.Fuzz(func(t *testing.T, data []byte) {
		payload, _, err := VerifyConfig(data, kp)
		if err != nil {
			return
		}
		// Whatever verifies was signed by the pinned key over exactly
		// this payload; parsing it must not panic.
		_, _ = ParseConfigPayload(payload, time.Now())
	})
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustUnquote(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

func mustSignOther(t *testing.T, priv ed25519.PrivateKey) []byte {
	t.Helper()
	b, err := signPayloadForTest("application/vnd.other+json", []byte(`{"policy":"purge"}`), priv)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The agent wipes exactly as lethe wipe does with the same settings: its
// options are the pipeline's defaults with the configuration applied.
func TestConfigOptionsAreWipeDefaults(t *testing.T) {
	cfg, err := ParseCmdline(`lethe.policy=purge-or-fail lethe.verify=sample lethe.sample=25 lethe.operator="A Tech" lethe.job=J1 lethe.site=S`)
	if err != nil {
		t.Fatal(err)
	}
	o := cfg.Options()
	want := station.DefaultOptions()
	want.Policy, want.Verify, want.SamplePercent = "purge-or-fail", "sample", 25
	if !reflect.DeepEqual(o, want) {
		t.Fatalf("options %+v, want %+v", o, want)
	}
	c, err := o.Parse()
	if err != nil || c.Verify != wipe.VerifySample || c.Request.Policy != wipe.PolicyPurgeOrFail || c.Request.MethodExplicit {
		t.Fatalf("parsed %+v, %v", c, err)
	}
	cfg, _ = ParseCmdline("lethe.policy=clear lethe.method=dod")
	c, err = cfg.Options().Parse()
	if err != nil || !c.Request.MethodExplicit || c.Request.Method.Name != "dod" {
		t.Fatalf("method dod: %+v %v", c, err)
	}
}

func TestShortTechnique(t *testing.T) {
	m, _ := wipe.ResolveMethod("random", nil, false)
	for _, tc := range []struct {
		p    wipe.Plan
		want string
	}{
		{wipe.Plan{Technique: wipe.Technique{ID: wipe.TechOverwrite}, Method: m}, "overwrite random"},
		{wipe.Plan{Technique: wipe.Technique{ID: wipe.TechNVMeSanitizeCrypto}}, "nvme-san-crypto"},
	} {
		if got := shortTechnique(tc.p); got != tc.want {
			t.Errorf("shortTechnique(%s) = %q, want %q", tc.p.Technique.ID, got, tc.want)
		}
	}
}
