package agent

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/lethe-project/lethe/sign"
)

// ConfigPayloadType is the DSSE payload type of a signed agent
// configuration.
const ConfigPayloadType = "application/vnd.lethe.agent-config+json"

// A signed configuration file is a JSON bundle:
//
//	{
//	  "publicKey": "-----BEGIN PUBLIC KEY-----...",   // PKIX PEM, ed25519
//	  "envelope": { "payloadType": "application/vnd.lethe.agent-config+json",
//	                "payload": "<base64 JSON>", "signatures": [{"keyid", "sig"}] }
//	}
//
// The envelope is DSSE, signed over its PAE with ed25519 like certificates
// are. The payload is a flat JSON object with the kernel command line's
// parameter names (without "lethe."): strings, or arrays of strings for
// exclude and bootdev, plus optional "notAfter" (RFC 3339), after which the
// agent refuses the file so an old configuration cannot be replayed
// forever, and a free-text "comment". Unknown keys are errors.
//
// The agent trusts the file only if the key is the one pinned on the
// command line (lethe.configkey=ed25519:BASE64 for the key itself, or
// sha256:HEX for the SHA-256 of its PKIX DER encoding, which is also the
// DSSE key ID). With a key pin the publicKey field may be omitted.
type signedBundle struct {
	PublicKey string          `json:"publicKey,omitempty"`
	Envelope  json.RawMessage `json:"envelope"`
}

// KeyPin is a pinned configuration-signing key: the key itself, or the hex
// SHA-256 of its PKIX DER encoding.
type KeyPin struct {
	Key  ed25519.PublicKey
	Hash string
}

// ParseKeyPin parses lethe.configkey: "ed25519:BASE64" (the raw 32-byte
// key, standard or URL base64) or "sha256:HEX".
func ParseKeyPin(s string) (KeyPin, error) {
	kind, v, ok := strings.Cut(strings.TrimSpace(s), ":")
	switch {
	case ok && strings.EqualFold(kind, "ed25519"):
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			if b, err := enc.DecodeString(v); err == nil && len(b) == ed25519.PublicKeySize {
				return KeyPin{Key: ed25519.PublicKey(b)}, nil
			}
		}
		return KeyPin{}, errors.New("ed25519: want the base64 of a 32-byte public key")
	case ok && strings.EqualFold(kind, "sha256"):
		b, err := hex.DecodeString(strings.ToLower(v))
		if err != nil || len(b) != sha256.Size {
			return KeyPin{}, errors.New("sha256: want 64 hex digits (the key ID: SHA-256 of the key's PKIX DER)")
		}
		return KeyPin{Hash: hex.EncodeToString(b)}, nil
	}
	return KeyPin{}, errors.New("want ed25519:BASE64 (the public key) or sha256:HEX (its key ID)")
}

// KeyPins returns both pin forms of a public key, for printing.
func KeyPins(pub ed25519.PublicKey) (key, hash string) {
	return "ed25519:" + base64.StdEncoding.EncodeToString(pub), "sha256:" + sign.KeyID(pub)
}

// Matches reports whether pub is the pinned key.
func (p KeyPin) Matches(pub ed25519.PublicKey) bool {
	if p.Key != nil {
		return p.Key.Equal(pub)
	}
	return p.Hash != "" && sign.KeyID(pub) == p.Hash
}

// SignConfig signs a configuration payload (the JSON object described
// above) and returns the bundle. It checks the payload first, so an
// operator cannot sign a file the agent would refuse.
func SignConfig(payload []byte, key ed25519.PrivateKey) ([]byte, error) {
	if _, err := ParseConfigPayload(payload, time.Time{}); err != nil {
		return nil, err
	}
	env, err := sign.SignPayload(ConfigPayloadType, payload, sign.KeySigner{Key: key})
	if err != nil {
		return nil, err
	}
	b := signedBundle{PublicKey: string(sign.MarshalPublicKey(key.Public().(ed25519.PublicKey))), Envelope: env}
	out, err := json.MarshalIndent(b, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

// VerifyConfig checks a signed configuration bundle against the pinned key
// and returns its payload and the signing key's ID. A bundle signed by
// another key, an altered payload, an unsigned file, or a publicKey field
// that contradicts the pin are all refused.
func VerifyConfig(data []byte, pin KeyPin) ([]byte, string, error) {
	var b signedBundle
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		return nil, "", fmt.Errorf("signed configuration: not a lethe config bundle: %w", err)
	}
	if len(b.Envelope) == 0 {
		return nil, "", errors.New("signed configuration: no envelope (unsigned files are refused)")
	}
	var pub ed25519.PublicKey
	if b.PublicKey != "" {
		k, err := sign.ParsePublicKey([]byte(b.PublicKey))
		if err != nil {
			return nil, "", fmt.Errorf("signed configuration: publicKey: %w", err)
		}
		if !pin.Matches(k) {
			return nil, "", fmt.Errorf("signed configuration: signed by key %.16s, not the pinned lethe.configkey", sign.KeyID(k))
		}
		pub = k
	}
	if pub == nil {
		if pin.Key == nil {
			return nil, "", errors.New("signed configuration: the pin is a key hash, and the file does not carry the public key")
		}
		pub = pin.Key
	}
	o, err := sign.Open(b.Envelope, ConfigPayloadType, pub)
	if err != nil {
		return nil, "", fmt.Errorf("signed configuration: %w", err)
	}
	return o.Payload, o.KeyID, nil
}

// FileConfig is a parsed configuration payload: settings in a fixed order.
type FileConfig struct {
	Settings [][2]string
	NotAfter time.Time
	Comment  string
}

// ParseConfigPayload parses a configuration payload and refuses it if it
// has expired at now (a zero now skips that check).
func ParseConfigPayload(payload []byte, now time.Time) (*FileConfig, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(payload, &raw); err != nil {
		return nil, fmt.Errorf("configuration payload: want a JSON object: %w", err)
	}
	fc := &FileConfig{}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var problems []string
	for _, k := range keys {
		v := raw[k]
		switch k {
		case "notAfter":
			if err := json.Unmarshal(v, &fc.NotAfter); err != nil {
				problems = append(problems, "notAfter: want an RFC 3339 time")
			}
			continue
		case "comment":
			if err := json.Unmarshal(v, &fc.Comment); err != nil {
				problems = append(problems, "comment: want a string")
			}
			continue
		}
		p, ok := params[k]
		if !ok {
			problems = append(problems, fmt.Sprintf("%s: unknown setting", k))
			continue
		}
		if !p.fileOK {
			problems = append(problems, fmt.Sprintf("%s: may only be set on the kernel command line", k))
			continue
		}
		var s string
		var list []string
		switch {
		case json.Unmarshal(v, &s) == nil:
			fc.Settings = append(fc.Settings, [2]string{k, s})
		case p.list && json.Unmarshal(v, &list) == nil:
			for _, s := range list {
				fc.Settings = append(fc.Settings, [2]string{k, s})
			}
		default:
			problems = append(problems, fmt.Sprintf("%s: want a string%s", k, map[bool]string{true: " or an array of strings"}[p.list]))
		}
	}
	// Check every value now, so a bad file is refused as a whole.
	probe := Default()
	for _, kv := range fc.Settings {
		if err := probe.Set("config", kv[0], kv[1]); err != nil {
			problems = append(problems, err.Error())
		}
	}
	if !now.IsZero() && !fc.NotAfter.IsZero() && now.After(fc.NotAfter) {
		problems = append(problems, fmt.Sprintf("the configuration expired at %s (notAfter); this clock says %s", fc.NotAfter.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339)))
	}
	if len(problems) > 0 {
		return nil, &ConfigError{Problems: problems}
	}
	return fc, nil
}

// Apply applies a verified configuration file on top of the command
// line's settings: the signed file wins, and a command-line value it
// replaces is noted (the command line reached the machine over an
// unauthenticated path).
func (c *Config) Apply(fc *FileConfig) error {
	seen := map[string]bool{}
	for _, kv := range fc.Settings {
		k := kv[0]
		if !seen[k] && c.Sources[k] == "cmdline" && !params[k].list {
			c.Notes = append(c.Notes, fmt.Sprintf("lethe.%s from the command line replaced by the signed configuration", k))
		}
		seen[k] = true
		if err := c.Set("config", k, kv[1]); err != nil {
			return err
		}
	}
	return nil
}
