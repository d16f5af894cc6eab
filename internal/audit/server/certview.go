package server

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/lethe-project/lethe/cert"
	"github.com/lethe-project/lethe/sign"

	"github.com/lethe-project/lethe/internal/audit/entry"
	"github.com/lethe-project/lethe/internal/audit/passkey"
	"github.com/lethe-project/lethe/internal/audit/store"
	"github.com/lethe-project/lethe/internal/humanize"
	"github.com/lethe-project/lethe/internal/safetext"
)

// certView is the certificate page: what an auditor decides on first, in
// plain words, then the raw fields.
type certView struct {
	C     *store.Certificate
	P     *cert.Predicate
	Check store.Status

	Drive, Serial, SerialLabel, Subject, Capacity string
	Summary                                       string // one sentence: status, technique, verification
	Verification                                  []kv
	Firmware                                      *fwView
	Hidden                                        []kv
	Capacities                                    []string
	Signatures                                    []sigView
	Validations                                   []valView
	Fields                                        []field
	Envelope                                      string
}

type kv struct{ K, V string }

type fwView struct {
	Operation, Completion, Note string
	Parameters, Notes           []string
	Commands                    []wipeCommand
	States                      []string
	InProgressSeen              bool
	Proof                       []kv
	ProofOK                     bool
}

type wipeCommand struct{ At, Name, Params, Result, Took string }

type sigView struct {
	Signer, KeyID, Note string
	OK                  bool
}

type valView struct {
	store.ValidationRecord
	Signed   bool
	SigOK    bool
	SigNote  string
	ProofURL string
}

func (s *Server) certView(ctx context.Context, c *store.Certificate) *certView {
	p := &c.Statement.Predicate
	v := &certView{C: c, P: p, Check: s.st.Check(ctx, c)}
	m := p.Media
	v.Drive = strings.TrimSpace(m.Vendor + " " + m.Model)
	if len(c.Statement.Subject) == 1 {
		v.Subject = c.Statement.Subject[0].Name
	}
	if v.Drive == "" {
		v.Drive = v.Subject
	}
	v.Serial, v.SerialLabel = m.Serial, "Serial"
	if v.Serial == "" && m.WWN != "" {
		v.Serial, v.SerialLabel = m.WWN, "WWN / EUI"
	}
	if v.Serial == "" {
		v.Serial, v.SerialLabel = "none reported", "Serial"
	}
	if m.CapacityBytes > 0 {
		v.Capacity = humanize.DecimalBytes(m.CapacityBytes)
	}

	// Verification, in words.
	vr := p.Verification
	v.Summary = fmt.Sprintf("%s. %s (%s)", strings.TrimSuffix(nonEmpty(p.StatusReason, "no reason given"), "."), nonEmpty(p.Sanitization.TechniqueName, string(p.Sanitization.Technique)),
		strings.ToUpper(string(p.Sanitization.Category)))
	switch vr.Scope {
	case "", "none":
		v.Summary += "; no read-back verification."
	default:
		v.Summary += fmt.Sprintf("; verified by %s read-back, result %s, %.4g%% of the medium read, %d mismatched sectors.", vr.Scope, nonEmpty(string(vr.Result), "none"), vr.Coverage, vr.MismatchedSectors)
	}
	add := func(list *[]kv, k, val string) {
		if strings.TrimSpace(val) != "" {
			*list = append(*list, kv{k, val})
		}
	}
	add(&v.Verification, "Scope", vr.Scope)
	add(&v.Verification, "Result", string(vr.Result))
	if vr.Scope != "" && vr.Scope != "none" {
		add(&v.Verification, "Coverage", fmt.Sprintf("%.4g%% (%s read)", vr.Coverage, humanize.DecimalBytes(vr.Bytes)))
		add(&v.Verification, "Mismatched sectors", fmt.Sprint(vr.MismatchedSectors))
		add(&v.Verification, "Read-back bypassed the page cache", yesNo(vr.Direct))
	}
	if vr.Pass > 0 {
		add(&v.Verification, "Pass read back", fmt.Sprint(vr.Pass))
	}
	if e := vr.Expected; e.Name != "" || e.Kind != "" {
		add(&v.Verification, "Expected content", strings.TrimSpace(e.Name+" ("+e.Kind+")"))
	}
	if sm := vr.Sample; sm != nil {
		add(&v.Verification, "Sample seed", sm.Seed)
		add(&v.Verification, "Sample", fmt.Sprintf("%s: %d units of %d bytes in %d subsections, %.4g%% requested", sm.Algorithm, sm.Units, sm.UnitBytes, sm.Subsection, sm.Percent))
	}
	if len(vr.Unreadable) > 0 {
		add(&v.Verification, "Unreadable ranges", fmt.Sprint(len(vr.Unreadable)))
	}
	add(&v.Verification, "Stopped", vr.Stopped)

	if fw := p.Firmware; fw != nil {
		f := &fwView{Operation: fw.Operation, Completion: fw.Completion, Parameters: fw.Parameters, Notes: fw.Notes,
			InProgressSeen: fw.InProgressSeen, Note: fw.VerificationNote}
		for _, c := range fw.Commands {
			f.Commands = append(f.Commands, wipeCommand{At: c.At.UTC().Format("15:04:05"), Name: c.Name, Params: c.Params, Result: c.Result, Took: fmt.Sprintf("%.0f ms", c.TookMs)})
		}
		last := ""
		for _, o := range fw.Observations {
			st := o.State
			if o.ProgressPct > 0 {
				st += fmt.Sprintf(" (%.0f%%)", o.ProgressPct)
			}
			if st != last {
				f.States = append(f.States, st)
				last = st
			}
		}
		if pr := fw.Proof; pr != nil {
			f.ProofOK = pr.Result == "passed" || pr.Result == "pass"
			add(&f.Proof, "Result", pr.Result)
			add(&f.Proof, "Canaries", fmt.Sprintf("%d planted, %d survived", pr.CanariesPlanted, pr.CanariesSurvived))
			add(&f.Proof, "Fingerprinted blocks", fmt.Sprintf("%d taken, %d unchanged, %d unexpected, %d unreadable", pr.FingerprintsTaken, pr.UnchangedBlocks, pr.UnexpectedBlocks, pr.UnreadableBlocks))
			if pr.Deallocated {
				add(&f.Proof, "Reads after the erase", "from deallocated blocks: "+pr.DeallocatedNote)
			}
			add(&f.Proof, "Seed", pr.Seed)
			add(&f.Proof, "Problems", strings.Join(pr.Problems, "; "))
		}
		v.Firmware = f
	}

	h := p.HiddenAreas
	if h.Inspected {
		add(&v.Hidden, "Inspected", "yes")
	} else {
		add(&v.Hidden, "Inspected", "no")
	}
	add(&v.Hidden, "Note", h.Note)
	add(&v.Hidden, "Before", h.Before)
	add(&v.Hidden, "After", h.After)
	add(&v.Hidden, "Actions", strings.Join(h.Actions, "; "))
	for _, cc := range p.Capacity {
		b, _ := json.Marshal(cc)
		v.Capacities = append(v.Capacities, string(b))
	}

	v.Signatures = s.signatures(c, v.Check)
	v.Validations = s.validationViews(ctx, c)

	raw, _ := json.Marshal(c.Statement)
	var generic any
	_ = json.Unmarshal(raw, &generic)
	flatten("", generic, &v.Fields)
	escapeView(v)
	var env map[string]any
	_ = json.Unmarshal(c.Envelope, &env)
	pretty, _ := json.MarshalIndent(env, "", "  ")
	v.Envelope = string(pretty)
	return v
}

// escapeView escapes control characters and bidirectional overrides in
// every text the certificate page shows from the certificate (html/template
// escapes HTML, not those: a U+202E would reorder a serial number as the
// auditor reads it). c is this request's own copy, read from the store.
// The envelope (base64 and hex) and the receipt's checkpoint (a signed
// note, shown as it is) are left alone.
func escapeView(v *certView) {
	rc := v.C.Receipt
	v.C.Receipt = nil
	safetext.EscapeAll(v)
	v.C.Receipt = rc
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func nonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// signatures checks each signature of the envelope: the station or agent
// key the store accepted it under, and a host's TPM co-signature.
func (s *Server) signatures(c *store.Certificate, chk store.Status) []sigView {
	var env sign.Envelope
	if err := json.Unmarshal(c.Envelope, &env); err != nil {
		return []sigView{{Signer: "envelope", Note: err.Error()}}
	}
	var tpmID string
	tpmPub, tpmErr := sign.ParseECDSAPublicKey([]byte(c.Statement.Predicate.Host.TPMKey))
	if tpmErr == nil {
		tpmID = sign.KeyID(tpmPub)
	}
	var out []sigView
	for _, sg := range env.Signatures {
		sv := sigView{KeyID: sg.KeyID}
		switch {
		case sg.KeyID == c.SignerKeyID:
			sv.Signer = c.SignerKind + " key"
			if c.SignerKind == "agent" && c.Job != "" {
				sv.Signer += " (enrolled for job " + c.Job + ")"
			}
			sv.OK, sv.Note = chk.SignatureOK, chk.SignatureNote
		case tpmID != "" && sg.KeyID == tpmID:
			sv.Signer = "host TPM key"
			if err := sign.VerifyECDSA(c.Envelope, tpmPub); err != nil {
				sv.Note = err.Error()
			} else {
				sv.OK, sv.Note = true, "valid signature by the TPM-resident key the host identity names (host serial "+nonEmpty(c.HostSerial, "none")+")"
			}
		default:
			sv.Signer, sv.Note = "unknown key", "not a key this store knows; not checked"
		}
		out = append(out, sv)
	}
	return out
}

// validationViews re-checks each signed validation's assertion against
// the registered passkey, from the log.
func (s *Server) validationViews(ctx context.Context, c *store.Certificate) []valView {
	var out []valView
	for _, v := range c.Validations {
		vv := valView{ValidationRecord: v}
		e, err := s.st.Entry(ctx, v.LogIndex)
		switch {
		case err != nil:
			vv.SigNote = "log entry unreadable: " + err.Error()
		case e.Validation == nil || e.Validation.Signed == nil:
			vv.SigNote = "recorded before passkeys: countersigned by the store only, not signed by the auditor"
		default:
			vv.Signed = true
			vv.ProofURL = fmt.Sprintf("/v1/validations/%d/proof", v.LogIndex)
			reg, err := s.st.Entry(ctx, e.Validation.Signed.PasskeyIndex)
			if err == nil && reg.Passkey == nil {
				err = fmt.Errorf("entry %d is not a passkey", e.Validation.Signed.PasskeyIndex)
			}
			if err == nil {
				err = passkey.VerifyAssertion(e.Validation.Signed.Statement, e.Validation.Signed.Assertion, reg.Passkey)
			}
			if err != nil {
				vv.SigNote = err.Error()
			} else {
				vv.SigOK = true
				vv.SigNote = fmt.Sprintf("signed by %s's passkey %s (registered in log entry %d)", reg.Passkey.User,
					shortCred(e.Validation.Signed.Assertion.CredentialID), e.Validation.Signed.PasskeyIndex)
			}
		}
		out = append(out, vv)
	}
	return out
}

func shortCred(id []byte) string {
	s := base64.RawURLEncoding.EncodeToString(id)
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

// field is one line of the certificate's JSON, flattened; empty values
// (null, "", [], {}) are left out.
type field struct{ Key, Value string }

func flatten(prefix string, v any, out *[]field) {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			flatten(p, x[k], out)
		}
	case []any:
		for i, e := range x {
			flatten(fmt.Sprintf("%s[%d]", prefix, i), e, out)
		}
	case nil:
	case string:
		if x != "" {
			*out = append(*out, field{prefix, x})
		}
	default:
		b, _ := json.Marshal(x)
		*out = append(*out, field{prefix, string(b)})
	}
}

// ago says how long ago t was, for lists.
func ago(t time.Time) string {
	d := time.Since(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h ago", int(d.Hours()))
	}
	return fmt.Sprintf("%d days ago", int(d.Hours()/24))
}

var _ = entry.TypeValidation
