package cert

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
)

// ValidationError lists every rule a statement breaks.
type ValidationError struct {
	Problems []string
}

func (e *ValidationError) Error() string { return strings.Join(e.Problems, "; ") }

var (
	uuidRE   = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	sha256RE = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// maxExactInt is the largest integer an IEEE 754 double holds exactly: RFC
// 8785 canonicalizes numbers through doubles, so an identity's size must
// stay at or below it for its digest to be stable.
const maxExactInt = 1 << 53

// Validate checks a statement against the schema's rules: the in-toto
// frame, a known schema version, the subject digest over the identity
// (RFC 8785), well-formed fields, and that the status claims no more than
// the evidence in the certificate shows (an ERASED certificate whose own
// read-back failed is refused). It reports every problem, not only the
// first, as a *ValidationError.
func (st *Statement) Validate() error {
	var v validator
	v.statement(st)
	if len(v.problems) == 0 {
		return nil
	}
	return &ValidationError{v.problems}
}

type validator struct{ problems []string }

func (v *validator) addf(format string, args ...any) {
	v.problems = append(v.problems, fmt.Sprintf(format, args...))
}

func (v *validator) statement(st *Statement) {
	if st.Type != StatementType {
		v.addf("statement type is %q, want %q", st.Type, StatementType)
	}
	if st.PredicateType != PredicateType {
		v.addf("predicate type is %q, want %q", st.PredicateType, PredicateType)
	}
	p := &st.Predicate
	if !slices.Contains(KnownVersions, p.SchemaVersion) {
		v.addf("%v", &VersionError{p.SchemaVersion})
		return // the rules below are those of the versions known
	}
	v.subject(st)
	if p.SchemaVersion == "1" {
		for _, f := range sinceV2(p) {
			v.addf("%s is a schema 2 field, in a schema 1 certificate", f)
		}
	}
	if !uuidRE.MatchString(p.CertificateID) {
		v.addf("certificateId %q is not a lowercase UUID", p.CertificateID)
	}
	if !p.Status.Known() {
		v.addf("status %q is not one of ERASED, PARTIAL, FAILED, ABORTED", p.Status)
	}
	if strings.TrimSpace(p.StatusReason) == "" {
		v.addf("statusReason is empty")
	}
	if p.Status.Known() && p.Disposition != DispositionFor(p.Status) {
		v.addf("disposition %q does not follow from status %s (want %q)", p.Disposition, p.Status, DispositionFor(p.Status))
	}
	if p.Started.IsZero() || p.Ended.IsZero() || p.Ended.Before(p.Started) {
		v.addf("started/ended times missing or out of order")
	}
	if p.Tool.Name == "" {
		v.addf("tool name is missing")
	}
	v.personnel(p)
	v.bootKey(p)
	v.media(p)
	v.sanitization(p)
	v.verification("verification", &p.Verification)
	if p.Firmware != nil {
		v.firmware(p)
	}
	if p.Status == StatusErased {
		v.erased(p)
	}
}

func (v *validator) subject(st *Statement) {
	if len(st.Subject) != 1 {
		v.addf("statement has %d subjects, want exactly one drive", len(st.Subject))
		return
	}
	s := st.Subject[0]
	if s.Name == "" {
		v.addf("subject has no name")
	}
	got, ok := s.Digest["sha256"]
	if !ok || len(s.Digest) != 1 || !sha256RE.MatchString(got) {
		v.addf("subject digest must be exactly one lowercase hex sha256")
		return
	}
	if st.Predicate.Identity.SizeBytes < 0 || st.Predicate.Identity.SizeBytes > maxExactInt {
		v.addf("identity sizeBytes %d is outside [0, 2^53]", st.Predicate.Identity.SizeBytes)
	}
	raw := st.rawIdentity
	if raw == nil {
		var err error
		if raw, err = json.Marshal(st.Predicate.Identity); err != nil {
			v.addf("identity: %v", err)
			return
		}
	}
	want, err := digestIdentityJSON(raw)
	if err != nil {
		v.addf("%v", err)
		return
	}
	if got == want {
		return
	}
	if st.Predicate.SchemaVersion == "1" {
		// Schema 1 writers digested encoding/json's form (see
		// legacyDigestIdentityJSON).
		if legacy, err := legacyDigestIdentityJSON(raw); err == nil && legacy == got {
			return
		}
	}
	v.addf("subject digest %s does not match the drive identity in the certificate (%s)", short(got), short(want))
}

func short(id string) string {
	if len(id) > 16 {
		return id[:16]
	}
	return id
}

// personnel: "anonymous" (schema 2) is the operator's choice to run
// without naming operator or organization; it cannot be set while both
// are named.
func (v *validator) personnel(p *Predicate) {
	if !p.Personnel.Anonymous {
		return
	}
	if strings.TrimSpace(p.Personnel.Operator) != "" && strings.TrimSpace(p.Personnel.Organization) != "" {
		v.addf("personnel.anonymous is set but operator and organization are both named")
	}
}

// bootKey: host.bootKey (schema 2) must be one PEM "PUBLIC KEY" block
// holding an ed25519 key.
func (v *validator) bootKey(p *Predicate) {
	if p.Host.BootKey == "" {
		return
	}
	if _, err := ParseBootKey(p.Host.BootKey); err != nil {
		v.addf("host.bootKey: %v", err)
	}
}

// ParseBootKey decodes host.bootKey: exactly one PEM "PUBLIC KEY" block
// (PKIX) holding an ed25519 key, nothing around it.
func ParseBootKey(s string) (ed25519.PublicKey, error) {
	block, rest := pem.Decode([]byte(s))
	if block == nil || block.Type != "PUBLIC KEY" || len(strings.TrimSpace(string(rest))) > 0 {
		return nil, errors.New("not one PEM PUBLIC KEY block")
	}
	k, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("a %T, not an ed25519 key", k)
	}
	return pub, nil
}

func (v *validator) media(p *Predicate) {
	m := p.Media
	if m.Path == "" && m.Serial == "" && m.WWN == "" {
		v.addf("media has no path, serial or WWN")
	}
	if !m.Transport.Known() {
		v.addf("media transport %q is unknown", m.Transport)
	}
	if !m.Type.Known() {
		v.addf("media type %q is unknown", m.Type)
	}
	if !p.Identity.Transport.Known() {
		v.addf("identity transport %q is unknown", p.Identity.Transport)
	}
	if m.CapacityBytes < 0 {
		v.addf("media capacity %d is negative", m.CapacityBytes)
	}
	if m.LogicalSectorSize < 0 || m.PhysicalSectorSize < 0 {
		v.addf("negative sector size")
	}
}

func (v *validator) sanitization(p *Predicate) {
	s := p.Sanitization
	switch s.Category {
	case CategoryNone, CategoryClear, CategoryPurge:
	default:
		v.addf("sanitization category %q is not none, clear or purge", s.Category)
	}
	t, ok := LookupTechnique(s.Technique)
	if !ok {
		v.addf("sanitization technique %q is not a known technique", s.Technique)
		return
	}
	if limit := t.CategoryOn(p.Media.Rotational); s.Category.rank() >= 0 && !s.Category.AtMost(limit) {
		v.addf("category %s claims more than %s gives (%s on this medium)", s.Category, s.Technique, limit)
	}
	for i, ps := range s.Passes {
		if ps.Index != i+1 {
			v.addf("pass %d has index %d", i+1, ps.Index)
		}
		v.pattern(fmt.Sprintf("pass %d pattern", i+1), ps.Pattern)
		if ps.BytesWritten < 0 {
			v.addf("pass %d: negative bytesWritten", i+1)
		}
		if ps.Verification != nil {
			v.verification(fmt.Sprintf("pass %d verification", i+1), ps.Verification)
		}
	}
	if t.Interface == "any" && p.Firmware != nil {
		v.addf("technique %s is a host technique but the certificate has a firmware record", s.Technique)
	}
	if t.Interface != "any" && p.Firmware == nil && p.Status == StatusErased {
		v.addf("firmware technique %s without a firmware record", s.Technique)
	}
}

func (v *validator) pattern(what string, ps PatternSpec) {
	switch ps.Kind {
	case PatternBytes:
		if b, err := hex.DecodeString(ps.Bytes); err != nil || len(b) == 0 {
			v.addf("%s: bytes %q are not hex", what, ps.Bytes)
		}
	case PatternAES128CTR:
		k, err1 := hex.DecodeString(ps.Key)
		iv, err2 := hex.DecodeString(ps.IV)
		if err1 != nil || err2 != nil || len(k) != 16 || len(iv) != 16 {
			v.addf("%s: AES-128-CTR needs a 16-byte hex key and IV", what)
		}
	case "":
		// A read-back with nothing to expect (scope none) names none.
	default:
		v.addf("%s: unknown pattern kind %q", what, ps.Kind)
	}
}

func (v *validator) verification(what string, r *VerifyReport) {
	switch r.Scope {
	case ScopeFull, ScopeNone:
	case ScopeSample:
		if r.Sample == nil {
			v.addf("%s: scope sample without the sample's parameters", what)
		} else {
			v.sample(what, r.Sample)
		}
	default:
		v.addf("%s: scope %q is not full, sample or none", what, r.Scope)
	}
	switch r.Result {
	case VerifyPassed, VerifyFailed, VerifyAborted, VerifySkipped:
	default:
		v.addf("%s: result %q is not passed, failed, aborted or skipped", what, r.Result)
	}
	if r.Scope != ScopeNone {
		v.pattern(what+" expected pattern", r.Expected)
	}
	if r.Coverage < 0 || r.Coverage > 100 || math.IsNaN(r.Coverage) {
		v.addf("%s: coverage %.4f%% out of range", what, r.Coverage)
	}
}

// maxRecomputeUnits bounds the sample a verifier recomputes (a certificate
// could otherwise ask for billions of units).
const maxRecomputeUnits = 1 << 24

func (v *validator) sample(what string, s *Sample) {
	if s.Algorithm != SampleAlgorithm {
		v.addf("%s: sample algorithm %q is unknown", what, s.Algorithm)
		return
	}
	seed, err := hex.DecodeString(s.Seed)
	if err != nil || len(seed) != 32 {
		v.addf("%s: sample seed is not 32 bytes of hex", what)
		return
	}
	if s.UnitBytes <= 0 || s.SizeBytes <= 0 || (s.SizeBytes+s.UnitBytes-1)/s.UnitBytes > maxRecomputeUnits {
		v.addf("%s: sample of %d bytes in %d-byte units cannot be recomputed", what, s.SizeBytes, s.UnitBytes)
		return
	}
	re, err := NewSample(s.SizeBytes, s.UnitBytes, s.Percent, seed)
	if err != nil {
		v.addf("%s: %v", what, err)
		return
	}
	if re.Units != s.Units || re.Bytes != s.Bytes || re.Subsection != s.Subsection || math.Abs(re.Coverage-s.Coverage) > 1e-9 {
		v.addf("%s: the sample's figures (%d units, %d bytes, %d subsections) are not what its parameters give (%d units, %d bytes, %d subsections)",
			what, s.Units, s.Bytes, s.Subsection, re.Units, re.Bytes, re.Subsection)
	}
}

func (v *validator) firmware(p *Predicate) {
	f := p.Firmware
	switch f.Interface {
	case "nvme", "ata", "scsi":
	default:
		v.addf("firmware interface %q is not nvme, ata or scsi", f.Interface)
	}
	if t, ok := LookupTechnique(p.Sanitization.Technique); ok && t.Interface != "any" && t.Interface != f.Interface {
		v.addf("technique %s is %s, but the firmware record is %s", t.ID, t.Interface, f.Interface)
	}
	if f.Proof != nil {
		switch f.Proof.Result {
		case "passed", "failed", "pending", "":
		default:
			v.addf("firmware proof result %q is unknown", f.Proof.Result)
		}
	}
}

// erased checks that an ERASED certificate's own evidence supports it
// (docs/certificate.md, "When a certificate says ERASED").
func (v *validator) erased(p *Predicate) {
	bad := func(format string, args ...any) { v.addf("status ERASED, but "+format, args...) }
	s := p.Sanitization
	if s.Category == CategoryNone {
		bad("category none: the technique does not sanitize")
	}
	for _, ps := range s.Passes {
		switch {
		case ps.Aborted:
			bad("pass %d was aborted", ps.Index)
		case ps.Stopped != "":
			bad("pass %d stopped: %s", ps.Index, ps.Stopped)
		case len(ps.Failed) > 0:
			bad("pass %d has %d failed range(s)", ps.Index, len(ps.Failed))
		}
		if ps.Verification != nil && ps.Verification.Result != VerifyPassed {
			bad("the read-back of pass %d %s", ps.Index, ps.Verification.Result)
		}
	}
	r := p.Verification
	if r.MismatchedSectors > 0 || len(r.Mismatched) > 0 || len(r.Unreadable) > 0 {
		bad("the read-back found mismatched or unreadable sectors")
	}
	if h := p.HiddenAreas; (h.AfterState != nil && h.AfterState.Unknown()) || (h.AfterState == nil && h.BeforeState != nil && h.BeforeState.Unknown()) {
		bad("whether sectors are hidden (HPA/DCO) is unknown: the drive's native capacity could not be read")
	}
	if f := p.Firmware; f != nil && f.Scope != nil && len(f.Scope.Unaccounted) > 0 && !f.Scope.Override {
		bad("the erase reached namespaces lethe could not account for (%s) without --all-namespaces", strings.Join(f.Scope.Unaccounted, "; "))
	}
	if h := p.HiddenAreas; h.AfterState != nil && h.AfterState.Hidden() > 0 {
		bad("%d sectors stay hidden (HPA/DCO)", h.AfterState.Hidden())
	} else if h.AfterState == nil && h.BeforeState != nil && h.BeforeState.Hidden() > 0 {
		bad("%d sectors were hidden (HPA/DCO) and no state after the erase is recorded", h.BeforeState.Hidden())
	}
	if w := p.Watch; w != nil && w.Result != WatchPassed {
		bad("the device watch is %s: %s", w.Result, strings.Join(w.Problems, "; "))
	}
	if p.Firmware == nil {
		if len(s.Passes) == 0 {
			bad("a host overwrite with no pass")
		}
		if r.Result != VerifyPassed || r.Scope == ScopeNone {
			bad("the read-back is %s (scope %s): an overwrite is ERASED only when verified", r.Result, r.Scope)
		}
		if n := len(s.Passes); n > 0 && r.Pass != 0 && r.Pass != s.Passes[n-1].Index {
			bad("the deciding read-back is of pass %d, not of the last pass %d", r.Pass, s.Passes[n-1].Index)
		}
		for _, c := range p.Capacity {
			if !c.Match && c.OSBytes < c.DeviceBytes {
				bad("the host saw %d of %d bytes (%s): a host overwrite did not reach the rest", c.OSBytes, c.DeviceBytes, c.Source)
			}
		}
		return
	}
	f := p.Firmware
	if f.Completion == "" {
		bad("the firmware operation's completion was not established")
	}
	if f.Proof == nil || f.Proof.Result != "passed" {
		bad("the firmware erase has no passed proof")
	}
	switch {
	case r.Result == VerifyPassed:
	case r.Scope == ScopeNone && r.Result == VerifySkipped:
		// Nothing defined to read back (crypto erase): the proof decides.
	default:
		bad("the read-back after the firmware erase is %s", r.Result)
	}
}

// sinceV2 lists the fields of schema 2 a predicate uses: a schema 1
// certificate must not have them (docs/certificate.md, "Versions").
func sinceV2(p *Predicate) []string {
	var out []string
	if p.Firmware != nil && p.Firmware.Scope != nil {
		out = append(out, "firmware.scope")
	}
	if p.Watch != nil {
		out = append(out, "deviceWatch")
	}
	if p.Media.LoopOffset != 0 || p.Media.LoopSizeLimit != 0 || p.Media.BackingFileBytes != 0 {
		out = append(out, "media (loopOffset, loopSizeLimit, backingFileBytes)")
	}
	if p.Identity.BackingOffset != 0 || p.Identity.BackingSizeLimit != 0 {
		out = append(out, "identity (backingOffset, backingSizeLimit)")
	}
	if f := p.Firmware; f != nil && f.Proof != nil {
		pr := f.Proof
		sectorFields := pr.SectorBytes != 0 || pr.UnchangedSectors != 0 || pr.CanarySectorsSurvived != 0
		for _, b := range pr.Failures {
			sectorFields = sectorFields || b.UnchangedSectors != 0 || b.CanarySectors != 0
		}
		if sectorFields {
			out = append(out, "firmware.proof (sectorBytes, unchangedSectors, canarySectorsSurvived, canarySectors)")
		}
	}
	if p.Personnel.Anonymous {
		out = append(out, "personnel.anonymous")
	}
	if p.Host.BootKey != "" {
		out = append(out, "host.bootKey")
	}
	for name, h := range map[string]*HiddenState{"hiddenAreas.beforeState": p.HiddenAreas.BeforeState, "hiddenAreas.afterState": p.HiddenAreas.AfterState} {
		if h != nil && (h.NativeMaxSource != "" || h.NativeMaxUnknown || h.DCOUnknown) {
			out = append(out, name+" (nativeMaxSource, nativeMaxUnknown, dcoUnknown)")
		}
	}
	slices.Sort(out)
	return out
}
