package cert

import (
	"strings"
	"testing"
)

func validStatement(t *testing.T, vector string) *Statement {
	t.Helper()
	st, err := Parse(payloadOf(t, vector))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Validate(); err != nil {
		t.Fatalf("%s: %v", vector, err)
	}
	st.rawIdentity = nil // mutations below change the struct
	return st
}

// Each rule, broken once on a certificate that otherwise verifies.
func TestValidateRules(t *testing.T) {
	for _, tc := range []struct {
		name, vector, want string
		mutate             func(*Statement)
	}{
		{"uuid", "v1/overwrite-random-loop.cert.json", "not a lowercase UUID", func(s *Statement) { s.Predicate.CertificateID = "X" }},
		{"status reason", "v1/overwrite-random-loop.cert.json", "statusReason is empty", func(s *Statement) { s.Predicate.StatusReason = " " }},
		{"times", "v1/overwrite-random-loop.cert.json", "out of order", func(s *Statement) { s.Predicate.Ended = s.Predicate.Started.Add(-1) }},
		{"two subjects", "v1/overwrite-random-loop.cert.json", "want exactly one drive", func(s *Statement) { s.Subject = append(s.Subject, s.Subject[0]) }},
		{"digest form", "v1/overwrite-random-loop.cert.json", "exactly one lowercase hex sha256", func(s *Statement) { s.Subject[0].Digest["sha512"] = "x" }},
		{"transport", "v1/overwrite-random-loop.cert.json", "media transport \"carrier-pigeon\"", func(s *Statement) { s.Predicate.Media.Transport = "carrier-pigeon" }},
		{"technique", "v1/overwrite-random-loop.cert.json", "not a known technique", func(s *Statement) { s.Predicate.Sanitization.Technique = "magic" }},
		{"pass index", "v1/overwrite-dod-verify-all-4k.cert.json", "pass 2 has index 7", func(s *Statement) { s.Predicate.Sanitization.Passes[1].Index = 7 }},
		{"aes key", "v1/overwrite-random-loop.cert.json", "16-byte hex key", func(s *Statement) { s.Predicate.Sanitization.Passes[0].Pattern.Key = "00" }},
		{"aborted pass", "v1/overwrite-random-loop.cert.json", "pass 1 was aborted", func(s *Statement) { s.Predicate.Sanitization.Passes[0].Aborted = true }},
		{"failed ranges", "v1/overwrite-random-loop.cert.json", "failed range", func(s *Statement) {
			s.Predicate.Sanitization.Passes[0].Failed = []Range{{LBA: 1, Count: 1}}
		}},
		{"unverified", "v1/overwrite-random-loop.cert.json", "only when verified", func(s *Statement) {
			s.Predicate.Verification.Scope, s.Predicate.Verification.Result = ScopeNone, VerifySkipped
		}},
		{"mismatches", "v1/overwrite-random-loop.cert.json", "mismatched or unreadable", func(s *Statement) { s.Predicate.Verification.MismatchedSectors = 1 }},
		{"not the last pass", "v1/overwrite-dod-verify-all-4k.cert.json", "not of the last pass", func(s *Statement) { s.Predicate.Verification.Pass = 2 }},
		{"hidden sectors", "v1/overwrite-random-loop.cert.json", "stay hidden", func(s *Statement) {
			s.Predicate.HiddenAreas.AfterState = &HiddenState{HPASectors: 8}
		}},
		{"capacity", "v1/overwrite-random-loop.cert.json", "did not reach the rest", func(s *Statement) {
			s.Predicate.Capacity = []CapacityCheck{{Source: "ATA IDENTIFY", OSBytes: 1, DeviceBytes: 2}}
		}},
		{"firmware record on overwrite", "v1/overwrite-random-loop.cert.json", "host technique but the certificate has a firmware record", func(s *Statement) {
			s.Predicate.Firmware = &FirmwareRecord{Interface: "nvme", Completion: "x", Proof: &ProofRecord{Result: "passed"}}
		}},
		{"firmware without completion", "v1/nvme-sanitize-crypto.cert.json", "completion was not established", func(s *Statement) { s.Predicate.Firmware.Completion = "" }},
		{"firmware proof failed", "v1/nvme-sanitize-crypto.cert.json", "no passed proof", func(s *Statement) { s.Predicate.Firmware.Proof.Result = "failed" }},
		{"firmware interface", "v1/nvme-sanitize-crypto.cert.json", "but the firmware record is ata", func(s *Statement) { s.Predicate.Firmware.Interface = "ata" }},
		{"enhanced erase on flash", "v1/nvme-sanitize-crypto.cert.json", "claims more than ata-security-erase-enhanced gives", func(s *Statement) {
			s.Predicate.Sanitization.Technique = TechATASecurityEnhanced
			s.Predicate.Firmware.Interface = "ata"
		}},
		{"sample seed", "v1/overwrite-sampled.cert.json", "not 32 bytes of hex", func(s *Statement) { s.Predicate.Verification.Sample.Seed = "00" }},
		{"sample figures", "v1/overwrite-sampled.cert.json", "are not what its parameters give", func(s *Statement) { s.Predicate.Verification.Sample.Bytes++ }},
		{"sample too large", "v1/overwrite-sampled.cert.json", "cannot be recomputed", func(s *Statement) { s.Predicate.Verification.Sample.UnitBytes = 1 }},
		{"identity too large", "v1/overwrite-random-loop.cert.json", "outside [0, 2^53]", func(s *Statement) { s.Predicate.Identity.SizeBytes = 1 << 60 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := validStatement(t, tc.vector)
			tc.mutate(st)
			err := st.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate: %v; want %q", err, tc.want)
			}
		})
	}
}

// Rules that hold whatever the status: a FAILED certificate may say its
// read-back failed, but not that it is something it is not.
func TestValidateAllowsHonestFailure(t *testing.T) {
	st := validStatement(t, "v1/overwrite-random-loop.cert.json")
	st.Predicate.Status, st.Predicate.Disposition = StatusFailed, DispositionDestroy
	st.Predicate.Verification.Result, st.Predicate.Verification.MismatchedSectors = VerifyFailed, 8
	if err := st.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestParseStrictness(t *testing.T) {
	good := string(payloadOf(t, "v1/overwrite-random-loop.cert.json"))
	for name, tc := range map[string]struct{ payload, want string }{
		"case-variant duplicate": {strings.Replace(good, `"status":"ERASED",`, `"status":"ERASED","STATUS":"FAILED",`, 1), "differ only in case"},
		"kelvin sign":            {strings.Replace(good, `"kernel"`, "\"\u212aernel\"", 1), "unknown field"},
		"wrong case only":        {strings.Replace(good, `"operator":`, `"Operator":`, 1), "unknown field \"Operator\""},
		"unknown nested":         {strings.Replace(good, `"scope":"full"`, `"scope":"full","extra":true`, 1), "verification: unknown field \"extra\""},
		"huge":                   {good + strings.Repeat(" ", MaxPayloadBytes), "more than the"},
		"newer version first":    {strings.Replace(strings.Replace(good, `"schemaVersion":"1"`, `"schemaVersion":"7"`, 1), `"status":"ERASED",`, `"status":"ERASED","newField":1,`, 1), "newer than this lethe reads"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Parse([]byte(tc.payload)); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Parse: %v; want %q", err, tc.want)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add(payloadOf(f, "v1/overwrite-random-loop.cert.json"))
	f.Add([]byte(`{"_type":"x","predicate":{"schemaVersion":"1"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := Parse(data)
		if err != nil {
			return
		}
		_ = st.Validate() // must not panic
		if _, err := Marshal(st); err != nil {
			t.Fatalf("a parsed statement does not marshal: %v", err)
		}
	})
}

// personnel.anonymous (schema 2): only in schema 2, and only when operator
// or organization really is missing.
func TestValidateAnonymous(t *testing.T) {
	st := validStatement(t, "v1/overwrite-random-loop.cert.json")
	st.Predicate.Personnel.Anonymous = true
	st.Predicate.Personnel.Organization = ""
	if err := st.Validate(); err == nil || !strings.Contains(err.Error(), "personnel.anonymous is a schema 2 field") {
		t.Errorf("anonymous in schema 1: %v", err)
	}
	st.Predicate.SchemaVersion = "2"
	if err := st.Validate(); err != nil {
		t.Errorf("anonymous without organization in schema 2: %v", err)
	}
	st.Predicate.Personnel.Operator, st.Predicate.Personnel.Organization = "A. Tech", "Example DC"
	if err := st.Validate(); err == nil || !strings.Contains(err.Error(), "both named") {
		t.Errorf("anonymous with both named: %v", err)
	}
}

func TestValidateBootKey(t *testing.T) {
	// An ed25519 PKIX key (RFC 8410 §10.1 example public key).
	const key = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----\n"
	st := validStatement(t, "v1/overwrite-random-loop.cert.json")
	st.Predicate.Host.BootKey = key
	if err := st.Validate(); err == nil || !strings.Contains(err.Error(), "host.bootKey is a schema 2 field") {
		t.Errorf("bootKey in schema 1: %v", err)
	}
	st.Predicate.SchemaVersion = "2"
	if err := st.Validate(); err != nil {
		t.Errorf("bootKey in schema 2: %v", err)
	}
	for _, bad := range []string{"x", key + key, strings.Replace(key, "PUBLIC KEY", "PRIVATE KEY", 2)} {
		st.Predicate.Host.BootKey = bad
		if err := st.Validate(); err == nil || !strings.Contains(err.Error(), "host.bootKey") {
			t.Errorf("bootKey %q: %v", bad, err)
		}
	}
}

// A schema 1 certificate cannot carry schema 2 fields; schema 2 rules for
// what the new fields imply hold for ERASED.
func TestSchema2Fields(t *testing.T) {
	st := validStatement(t, "v1/nvme-sanitize-crypto.cert.json")
	st.Predicate.Firmware.Scope = &EraseScope{Subsystem: true, Namespaces: []ScopeNamespace{{NSID: 1, Attached: true, Probed: true}}}
	if err := st.Validate(); err == nil || !strings.Contains(err.Error(), "firmware.scope is a schema 2 field") {
		t.Fatalf("schema 1 with firmware.scope: %v", err)
	}
	st.Predicate.SchemaVersion = "2"
	if err := st.Validate(); err != nil {
		t.Fatalf("schema 2 with firmware.scope: %v", err)
	}
	st.Predicate.Firmware.Scope.Unaccounted = []string{"namespace 2: Identify failed"}
	if err := st.Validate(); err == nil || !strings.Contains(err.Error(), "could not account for") {
		t.Fatalf("unaccounted namespaces without override: %v", err)
	}
	st.Predicate.Firmware.Scope.Override = true
	if err := st.Validate(); err != nil {
		t.Fatalf("unaccounted namespaces with override: %v", err)
	}
	st.Predicate.HiddenAreas.BeforeState = &HiddenState{CurrentMaxLBA: 100, NativeMaxUnknown: true}
	if err := st.Validate(); err == nil || !strings.Contains(err.Error(), "hidden (HPA/DCO) is unknown") {
		t.Fatalf("unknown native max, ERASED: %v", err)
	}
}

// Every schema 2 field is refused in a schema 1 certificate.
func TestSchema2FieldsListed(t *testing.T) {
	for name, mutate := range map[string]func(*Statement){
		"deviceWatch":       func(s *Statement) { s.Predicate.Watch = &WatchRecord{Result: WatchPassed} },
		"media (loopOffset": func(s *Statement) { s.Predicate.Media.LoopOffset = 512 },
		"identity (backing": func(s *Statement) { s.Predicate.Identity.BackingOffset = 512 },
	} {
		st := validStatement(t, "v1/overwrite-random-loop.cert.json")
		mutate(st)
		if err := st.Validate(); err == nil || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), "schema 2 field") {
			t.Errorf("%s in schema 1: %v", name, err)
		}
	}
}
