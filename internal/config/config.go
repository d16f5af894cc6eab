// Package config reads lethe's configuration file (/etc/lethe/lethe.yaml
// or --config FILE) and merges it with the environment and command-line
// flags, remembering where every effective value came from, so that a
// technician does not repeat the key, certificate directory, personnel and
// audit settings on every command, and `lethe config show` can say why a
// value is what it is.
//
// Precedence, lowest first: built-in default, configuration file,
// environment variable, command-line flag. The result is a typed Settings
// that the wipe and station pipelines take as their configuration.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// DefaultPath is read when no --config is given; a missing file there is
// not an error (defaults and flags apply).
const DefaultPath = "/etc/lethe/lethe.yaml"

// EnvPath names a configuration file like --config does.
const EnvPath = "LETHE_CONFIG"

// Key names: the dotted path of the setting in the YAML file, and the
// name `lethe config show` prints.
const (
	KeyKey          = "key"
	KeyCertDir      = "cert-dir"
	KeyOperator     = "operator"
	KeyOrganization = "organization"
	KeySite         = "site"
	KeyPolicy       = "policy"
	KeyVerify       = "verify"
	KeyAuditURL     = "audit.url"
	KeyAuditCA      = "audit.ca"
	KeyAuditToken   = "audit.token"
	KeyStationExcl  = "station.exclude"
	KeyPDF          = "pdf"
)

// Spec describes one setting.
type Spec struct {
	Key string
	// Flag is the command-line flag that overrides it ("" if none).
	Flag string
	// Env is the environment variable that overrides the file ("" if none).
	Env string
	// Default is the built-in value.
	Default string
	// List settings hold several values (YAML sequence, repeated flag).
	List bool
	// Secret values are never printed in full.
	Secret bool
	// Path values are made absolute, relative to the configuration file's
	// directory when they come from the file (so the file means the same
	// thing from any working directory) and to the working directory
	// otherwise.
	Path bool
	// Check validates a value (nil: any printable text).
	Check func(string) error
	Help  string
}

// DefaultCertDir is where certificates go when nothing else is said: an
// absolute directory beside lethe's job state, never "wherever the
// technician happened to stand".
const DefaultCertDir = "/var/lib/lethe/certificates"

// Specs lists every setting, in the order `lethe config show` prints them.
var Specs = []Spec{
	{Key: KeyKey, Flag: "key", Env: "LETHE_KEY", Path: true, Help: "ed25519 signing key, PKCS#8 PEM (lethe keygen)"},
	{Key: KeyCertDir, Flag: "cert-dir", Default: DefaultCertDir, Path: true, Help: "directory for certificates, their PDFs and receipts"},
	{Key: KeyOperator, Flag: "operator", Help: "name of the person performing the sanitization"},
	{Key: KeyOrganization, Flag: "organization", Help: "organization performing the sanitization"},
	{Key: KeySite, Flag: "site", Help: "location of the sanitization"},
	{Key: KeyPolicy, Flag: "policy", Default: "purge", Check: oneOf("purge", "purge-or-fail", "clear"), Help: "default policy"},
	{Key: KeyVerify, Flag: "verify", Default: "last", Check: oneOf("last", "all", "sample", "off"), Help: "default read-back verification"},
	{Key: KeyAuditURL, Flag: "audit", Env: "LETHE_AUDIT_URL", Check: httpsURL, Help: "audit store to submit certificates to"},
	{Key: KeyAuditCA, Flag: "audit-ca", Env: "LETHE_AUDIT_CA", Path: true, Help: "PEM certificate to trust for the audit store"},
	{Key: KeyAuditToken, Flag: "audit-token", Env: "LETHE_AUDIT_TOKEN", Secret: true, Check: token, Help: "enrollment (lenr_) or API (lapi_) token"},
	{Key: KeyStationExcl, Flag: "exclude", List: true, Help: "lethe station: serials or WWNs never to touch"},
	{Key: KeyPDF, Flag: "pdf", Default: "true", Check: boolean, Help: "write a PDF beside each certificate"},
}

func lookupSpec(key string) (Spec, bool) {
	for _, s := range Specs {
		if s.Key == key {
			return s, true
		}
	}
	return Spec{}, false
}

// SourceKind says where a value came from.
type SourceKind string

const (
	FromDefault SourceKind = "default"
	FromFile    SourceKind = "file"
	FromEnv     SourceKind = "environment"
	FromFlag    SourceKind = "flag"
)

// Source is where one effective value came from.
type Source struct {
	Kind SourceKind `json:"kind"`
	// Detail is the file and line, the variable, or the flag.
	Detail string `json:"detail,omitempty"`
}

func (s Source) String() string {
	if s.Detail == "" {
		return string(s.Kind)
	}
	return string(s.Kind) + " " + s.Detail
}

// Value is one effective setting.
type Value struct {
	Key    string   `json:"key"`
	Values []string `json:"values"`
	Source Source   `json:"source"`
	Secret bool     `json:"secret,omitempty"`
}

// String is the value for people: a list joined by commas, a secret
// reduced to its prefix.
func (v Value) String() string {
	if v.Secret && len(v.Values) > 0 && v.Values[0] != "" {
		p, _, _ := strings.Cut(v.Values[0], "_")
		return p + "_... (set, hidden)"
	}
	return strings.Join(v.Values, ",")
}

// Config is the merged configuration.
type Config struct {
	// File is the configuration file read ("" if none).
	File string
	// FileMissing is set when the default file does not exist.
	FileMissing bool
	values      map[string]*Value
}

// Error is a problem in the configuration; Where names the file and line
// or the flag.
type Error struct {
	Where string
	Key   string
	Err   error
}

func (e *Error) Error() string {
	if e.Key == "" {
		return fmt.Sprintf("%s: %v", e.Where, e.Err)
	}
	return fmt.Sprintf("%s: %s: %v", e.Where, e.Key, e.Err)
}
func (e *Error) Unwrap() error { return e.Err }

// Defaults is a configuration holding only the built-in defaults.
func Defaults() *Config {
	c := &Config{values: map[string]*Value{}}
	for _, s := range Specs {
		var vs []string
		if s.Default != "" {
			vs = []string{s.Default}
		}
		c.values[s.Key] = &Value{Key: s.Key, Values: vs, Source: Source{Kind: FromDefault}, Secret: s.Secret}
	}
	return c
}

// Load reads the configuration file path over the defaults. With path ""
// it reads $LETHE_CONFIG, else DefaultPath, and a missing default file is
// not an error; a file named explicitly must exist.
func Load(path string) (*Config, error) {
	c := Defaults()
	explicit := path != ""
	if !explicit {
		if p := os.Getenv(EnvPath); p != "" {
			path, explicit = p, true
		} else {
			path = DefaultPath
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		if !explicit && errors.Is(err, fs.ErrNotExist) {
			c.FileMissing = true
			c.File = path
			return c, nil
		}
		return nil, &Error{Where: path, Err: err}
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	c.File = abs
	if err := c.parse(abs, data); err != nil {
		return nil, err
	}
	if err := checkSecretMode(abs, c); err != nil {
		return nil, err
	}
	return c, nil
}

// parse reads the YAML document strictly: unknown keys, duplicate keys,
// wrong types and control characters are errors with the line number, so
// a misspelt setting never silently falls back to a default.
func (c *Config) parse(path string, data []byte) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return &Error{Where: path, Err: err}
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return &Error{Where: path, Err: errors.New("want one YAML document")}
	}
	return c.walk(path, "", doc.Content[0])
}

func (c *Config) walk(path, prefix string, n *yaml.Node) error {
	where := func(n *yaml.Node) string { return fmt.Sprintf("%s line %d", path, n.Line) }
	if n.Kind != yaml.MappingNode {
		return &Error{Where: where(n), Key: strings.TrimSuffix(prefix, "."), Err: errors.New("want a mapping of settings")}
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		key := prefix + k.Value
		// Keys are matched exactly: "Operator" is not "operator", and a
		// key given twice is an error rather than "the last one wins".
		if seen[k.Value] {
			return &Error{Where: where(k), Key: key, Err: errors.New("given twice")}
		}
		seen[k.Value] = true
		if v.Kind == yaml.MappingNode {
			if !hasPrefix(key + ".") {
				return &Error{Where: where(k), Key: key, Err: unknownKey(key)}
			}
			if err := c.walk(path, key+".", v); err != nil {
				return err
			}
			continue
		}
		s, ok := lookupSpec(key)
		if !ok {
			return &Error{Where: where(k), Key: key, Err: unknownKey(key)}
		}
		var vals []string
		switch {
		case v.Kind == yaml.SequenceNode && s.List:
			for _, e := range v.Content {
				if e.Kind != yaml.ScalarNode {
					return &Error{Where: where(e), Key: key, Err: errors.New("want a list of text values")}
				}
				vals = append(vals, e.Value)
			}
		case v.Kind == yaml.ScalarNode:
			if v.Tag == "!!null" {
				continue
			}
			vals = []string{v.Value}
		default:
			return &Error{Where: where(v), Key: key, Err: errors.New("want a text value")}
		}
		if s.Path {
			for i, p := range vals {
				if p != "" && !filepath.IsAbs(p) {
					vals[i] = filepath.Join(filepath.Dir(path), p)
				}
			}
		}
		if err := c.set(s, vals, Source{Kind: FromFile, Detail: fmt.Sprintf("%s:%d", path, v.Line)}); err != nil {
			return &Error{Where: where(v), Key: key, Err: err}
		}
	}
	return nil
}

func hasPrefix(p string) bool {
	for _, s := range Specs {
		if strings.HasPrefix(s.Key, p) {
			return true
		}
	}
	return false
}

func unknownKey(key string) error {
	var keys []string
	for _, s := range Specs {
		keys = append(keys, s.Key)
	}
	if best := Suggest(key, keys); best != "" {
		return fmt.Errorf("unknown setting (did you mean %q?)", best)
	}
	return fmt.Errorf("unknown setting (known: %s)", strings.Join(keys, ", "))
}

// set validates and stores a value.
func (c *Config) set(s Spec, vals []string, src Source) error {
	for _, v := range vals {
		if err := CheckText(v); err != nil {
			return err
		}
		if s.Check != nil && v != "" {
			if err := s.Check(v); err != nil {
				return err
			}
		}
	}
	c.values[s.Key] = &Value{Key: s.Key, Values: vals, Source: src, Secret: s.Secret}
	return nil
}

// ApplyEnv lets environment variables override the file.
func (c *Config) ApplyEnv(lookup func(string) (string, bool)) error {
	for _, s := range Specs {
		if s.Env == "" {
			continue
		}
		v, ok := lookup(s.Env)
		if !ok || v == "" {
			continue
		}
		if s.Path {
			v = absPath(v)
		}
		if err := c.set(s, []string{v}, Source{Kind: FromEnv, Detail: s.Env}); err != nil {
			return &Error{Where: "environment " + s.Env, Err: err}
		}
	}
	return nil
}

// Flags is what the command line gave: for each flag name the operator
// set, its values. (Flags that were not set are absent: a flag's default
// never overrides the file.)
type Flags map[string][]string

// ApplyFlags lets command-line flags override everything else.
func (c *Config) ApplyFlags(f Flags) error {
	for _, s := range Specs {
		if s.Flag == "" {
			continue
		}
		vals, ok := f[s.Flag]
		if !ok {
			continue
		}
		if s.Path {
			for i, v := range vals {
				if v != "" {
					vals[i] = absPath(v)
				}
			}
		}
		if err := c.set(s, vals, Source{Kind: FromFlag, Detail: "--" + s.Flag}); err != nil {
			return &Error{Where: "--" + s.Flag, Err: err}
		}
	}
	return nil
}

func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

// Get is one setting's effective value ("" if unset).
func (c *Config) Get(key string) string {
	if v := c.values[key]; v != nil && len(v.Values) > 0 {
		return v.Values[0]
	}
	return ""
}

// List is a list setting's values.
func (c *Config) List(key string) []string {
	if v := c.values[key]; v != nil {
		return slices.Clone(v.Values)
	}
	return nil
}

// Bool is a boolean setting.
func (c *Config) Bool(key string) bool {
	b, _ := strconv.ParseBool(c.Get(key))
	return b
}

// Values lists every setting in Specs order.
func (c *Config) Values() []Value {
	out := make([]Value, 0, len(Specs))
	for _, s := range Specs {
		out = append(out, *c.values[s.Key])
	}
	return out
}

// Source says where a setting came from.
func (c *Config) Source(key string) Source {
	if v := c.values[key]; v != nil {
		return v.Source
	}
	return Source{}
}

// Settings is the typed configuration the wipe and station pipelines take.
type Settings struct {
	Key     string
	CertDir string
	// Personnel recorded in every certificate.
	Operator, Organization, Site string
	Policy                       string
	Verify                       string
	Audit                        Audit
	// Exclude lists serials or WWNs lethe station never touches.
	Exclude []string
	// PDF asks for a PDF beside each certificate.
	PDF bool
}

// Audit is the audit store to submit certificates to.
type Audit struct {
	URL, CA, Token string
}

// Settings returns the typed effective configuration.
func (c *Config) Settings() Settings {
	return Settings{
		Key:          c.Get(KeyKey),
		CertDir:      c.Get(KeyCertDir),
		Operator:     c.Get(KeyOperator),
		Organization: c.Get(KeyOrganization),
		Site:         c.Get(KeySite),
		Policy:       c.Get(KeyPolicy),
		Verify:       c.Get(KeyVerify),
		Audit:        Audit{URL: c.Get(KeyAuditURL), CA: c.Get(KeyAuditCA), Token: c.Get(KeyAuditToken)},
		Exclude:      c.List(KeyStationExcl),
		PDF:          c.Bool(KeyPDF),
	}
}

// Anonymous reports which of operator and organization are missing: a
// certificate without them names nobody accountable, which an auditor
// rejects (NIST SP 800-88 Rev. 2 Appendix G).
func (s Settings) Anonymous() []string {
	var missing []string
	if strings.TrimSpace(s.Operator) == "" {
		missing = append(missing, "operator")
	}
	if strings.TrimSpace(s.Organization) == "" {
		missing = append(missing, "organization")
	}
	return missing
}

// CheckText rejects what must never reach a certificate, a PDF or a
// terminal from a setting: control characters (escape sequences that
// rewrite a technician's screen, newlines that forge a second line) and
// Unicode bidirectional overrides that display text in another order
// than it is stored.
func CheckText(s string) error {
	if !utf8.ValidString(s) {
		return errors.New("not valid UTF-8")
	}
	for i, r := range s {
		switch {
		case unicode.IsControl(r):
			return fmt.Errorf("control character %U at byte %d", r, i)
		case unicode.Is(unicode.Bidi_Control, r), r == '\u200B', r == '\uFEFF':
			return fmt.Errorf("invisible formatting character %U at byte %d", r, i)
		}
	}
	return nil
}

func oneOf(allowed ...string) func(string) error {
	return func(v string) error {
		if slices.Contains(allowed, v) {
			return nil
		}
		return fmt.Errorf("%q: want one of %s", v, strings.Join(allowed, ", "))
	}
}

func httpsURL(v string) error {
	if !strings.HasPrefix(v, "https://") {
		return fmt.Errorf("%q: want an https:// URL", v)
	}
	return nil
}

func token(v string) error {
	if !strings.HasPrefix(v, "lenr_") && !strings.HasPrefix(v, "lapi_") {
		return errors.New("want an enrollment token (lenr_...) or an API token (lapi_...)")
	}
	return nil
}

func boolean(v string) error {
	if _, err := strconv.ParseBool(v); err != nil {
		return fmt.Errorf("%q: want true or false", v)
	}
	return nil
}

// checkSecretMode refuses a file that holds a token but that other users
// can read: the token lets whoever holds it register signing keys.
func checkSecretMode(path string, c *Config) error {
	if c.Source(KeyAuditToken).Kind != FromFile {
		return nil
	}
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return &Error{Where: path, Key: KeyAuditToken, Err: fmt.Errorf("the file holds a token but is readable by others (mode %04o): chmod 600 %s", fi.Mode().Perm(), path)}
	}
	return nil
}
