package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func write(t *testing.T, body string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "lethe.yaml")
	if err := os.WriteFile(p, []byte(body), mode); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPrecedence(t *testing.T) {
	p := write(t, `
key: keys/lethe.key
cert-dir: /srv/certs
operator: From File
organization: Example DC
site: FRA2
policy: clear
audit:
  url: https://audit.example:8443
  ca: ca.pem
pdf: false
station:
  exclude: [S3R14L, "0x5000c500a1b2c3d4"]
`, 0o644)
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"LETHE_AUDIT_URL": "https://env.example", "LETHE_KEY": ""}
	if err := c.ApplyEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Fatal(err)
	}
	if err := c.ApplyFlags(Flags{"operator": {"A. Tech"}, "exclude": {"X1"}}); err != nil {
		t.Fatal(err)
	}
	s := c.Settings()
	dir := filepath.Dir(p)
	want := Settings{Key: filepath.Join(dir, "keys/lethe.key"), CertDir: "/srv/certs", Operator: "A. Tech", Organization: "Example DC",
		Site: "FRA2", Policy: "clear", Verify: "last", Audit: Audit{URL: "https://env.example", CA: filepath.Join(dir, "ca.pem")},
		Exclude: []string{"X1"}, PDF: false}
	if strings.Join(s.Exclude, ",") != "X1" {
		t.Errorf("exclude %v", s.Exclude)
	}
	s.Exclude, want.Exclude = nil, nil
	if !reflect.DeepEqual(s, want) {
		t.Errorf("settings\n got %+v\nwant %+v", s, want)
	}
	for key, src := range map[string]string{
		KeyOperator:     "flag --operator",
		KeyOrganization: "file " + p + ":5",
		KeyAuditURL:     "environment LETHE_AUDIT_URL",
		KeyVerify:       "default",
		KeyKey:          "file " + p + ":2",
	} {
		if got := c.Source(key).String(); got != src {
			t.Errorf("%s from %q, want %q", key, got, src)
		}
	}
}

func TestDefaultFileMissing(t *testing.T) {
	t.Setenv(EnvPath, "")
	c, err := Load("")
	if _, statErr := os.Stat(DefaultPath); statErr == nil {
		// This machine has a configuration (never on a fresh CI machine):
		// Load("") reads it, whatever it holds, and never calls it missing.
		if err == nil && c.FileMissing {
			t.Errorf("%s exists but Load reports it missing", DefaultPath)
		}
	} else {
		if err != nil && !errors.Is(err, os.ErrPermission) {
			t.Fatalf("no %s: %v", DefaultPath, err)
		}
		if c != nil && (!c.FileMissing || c.Get(KeyCertDir) != DefaultCertDir) {
			t.Errorf("no %s: missing=%v cert-dir %q", DefaultPath, c.FileMissing, c.Get(KeyCertDir))
		}
	}
	if _, err := Load(filepath.Join(t.TempDir(), "nope.yaml")); err == nil {
		t.Error("an explicitly named missing file is not an error")
	}
}

func TestRejects(t *testing.T) {
	for _, tc := range []struct{ name, body, want string }{
		{"unknown", "operater: x\n", `did you mean "operator"`},
		{"unknown section", "audt:\n  url: https://x\n", "unknown setting"},
		{"unknown nested", "audit:\n  uri: https://x\n", `did you mean "audit.url"`},
		{"twice", "site: a\nsite: b\n", ""},
		{"case variant", "Site: a\n", "unknown setting"},
		{"escape", "operator: \"A\\e[2J\"\n", "control character"},
		{"newline", "operator: \"A\\nOperator: B\"\n", "control character"},
		{"bidi", "operator: \"A\u202eB\"\n", "formatting character"},
		{"policy", "policy: purgeish\n", "want one of"},
		{"verify", "verify: maybe\n", "want one of"},
		{"http", "audit:\n  url: http://x\n", "https://"},
		{"token kind", "audit:\n  token: hunter2\n", "lenr_"},
		{"list where text", "operator: [a, b]\n", "want a text value"},
		{"not a map", "- a\n", "mapping"},
		{"syntax", "operator: [\n", "yaml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(write(t, tc.body, 0o600))
			if err == nil {
				t.Fatalf("accepted %q", tc.body)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q lacks %q", err, tc.want)
			}
			if !strings.Contains(err.Error(), "line") && tc.name != "syntax" {
				t.Errorf("error %q does not name the line", err)
			}
		})
	}
}

func TestTokenNeedsPrivateFile(t *testing.T) {
	body := "audit:\n  token: lapi_abc\n"
	if _, err := Load(write(t, body, 0o644)); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("world-readable token file: %v", err)
	}
	c, err := Load(write(t, body, 0o600))
	if err != nil {
		t.Fatal(err)
	}
	if v := c.Values(); !strings.Contains(v[len(v)-3].String(), "hidden") {
		t.Errorf("token shown as %q", v[len(v)-3].String())
	}
}

func TestFlagsCheckedToo(t *testing.T) {
	c := Defaults()
	if err := c.ApplyFlags(Flags{"operator": {"x\x07"}}); err == nil {
		t.Error("a control character in a flag was accepted")
	}
	if got := c.Settings().Anonymous(); len(got) != 2 {
		t.Errorf("anonymous %v", got)
	}
}

func TestSuggest(t *testing.T) {
	flags := []string{"method", "policy", "verify", "operator", "organization"}
	for in, want := range map[string]string{"metod": "method", "mehtod": "method", "polcy": "policy", "operater": "operator", "zzz": "", "organisation": "organization"} {
		if got := Suggest(in, flags); got != want {
			t.Errorf("Suggest(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzLoad(f *testing.F) {
	f.Add("operator: a\nstation:\n  exclude: [x]\n")
	f.Add("audit: {url: https://x, ca: y}\n")
	f.Fuzz(func(t *testing.T, body string) {
		p := filepath.Join(t.TempDir(), "f.yaml")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := Load(p)
		if err != nil {
			return
		}
		for _, v := range c.Values() {
			for _, s := range v.Values {
				if CheckText(s) != nil {
					t.Fatalf("accepted %q", s)
				}
			}
		}
	})
}
