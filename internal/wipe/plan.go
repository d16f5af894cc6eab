package wipe

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/lethe-project/lethe/internal/devices"
)

// Policy is the outcome an operator asks for.
type Policy string

// Policies.
//   - purge (default): the strongest technique the drive really supports;
//     where no Purge technique exists, fall back to Clear and record why.
//   - purge-or-fail: Purge, or refuse the drive (exit 1).
//   - clear: a host overwrite (Clear, verifiable byte for byte on every
//     drive); a firmware Clear-or-better technique only where the host
//     cannot write.
const (
	PolicyPurge       Policy = "purge"
	PolicyPurgeOrFail Policy = "purge-or-fail"
	PolicyClear       Policy = "clear"
)

// ParsePolicy parses --policy.
func ParsePolicy(s string) (Policy, error) {
	switch Policy(s) {
	case "", PolicyPurge:
		return PolicyPurge, nil
	case PolicyPurgeOrFail, PolicyClear:
		return Policy(s), nil
	}
	return "", fmt.Errorf("unknown --policy %q: want purge, purge-or-fail or clear", s)
}

// preference is the reviewed order of techniques per interface, strongest
// and most verifiable first (DESIGN.md §2; IEEE 2883-2022 §6). Crypto erase
// is first because it also reaches over-provisioned and remapped blocks in
// milliseconds; block erase next; overwrite variants last because they are
// slowest. Format NVM SES=2 only counts where FNA bit 2 says the drive
// really has crypto erase (the probe marks it unavailable otherwise). Host
// overwrite closes every list.
var preference = map[string][]TechniqueID{
	"nvme": {TechNVMeSanitizeCrypto, TechNVMeSanitizeBlock, TechNVMeSanitizeOverw, TechNVMeFormatCrypto, TechNVMeFormatUserData, TechOverwrite},
	"ata":  {TechATASanitizeCrypto, TechATASanitizeBlock, TechATASanitizeOverw, TechATASecurityEnhanced, TechATASecurityNormal, TechOverwrite},
	"scsi": {TechSCSISanitizeCrypto, TechSCSISanitizeBlock, TechSCSISanitizeOverw, TechOverwrite, TechSCSIFormatUnit},
	"":     {TechOverwrite},
}

// Capability is what a drive's probe found about one technique.
type Capability struct {
	Technique TechniqueID `json:"technique"`
	// Available is true when the drive advertises the technique and it
	// can run now (not frozen, not locked by someone else).
	Available bool `json:"available"`
	// Reason explains unavailability, or notes a condition.
	Reason string `json:"reason,omitempty"`
	// Estimate is the drive's own time estimate (0: none reported).
	Estimate time.Duration `json:"estimate,omitempty"`
}

// Capabilities is everything a probe learned about a drive's firmware
// techniques.
type Capabilities struct {
	// Interface is "nvme", "ata", "scsi" or "" (no pass-through).
	Interface string       `json:"interface"`
	Items     []Capability `json:"techniques"`
	// Notes are facts the certificate should carry (frozen state, HPA,
	// capacity mismatch, ...).
	Notes []string `json:"notes,omitempty"`
	// ProbeError is set when pass-through failed; only host overwrite
	// is then planned.
	ProbeError string `json:"probeError,omitempty"`
	// Rotational is what the drive itself says (ATA IDENTIFY word 217,
	// SCSI VPD B1h); nil when it did not say. It decides the category of
	// techniques whose outcome differs on rotating media.
	Rotational *bool `json:"rotational,omitempty"`
	// Capacity compares what the drive reports through pass-through with
	// the OS view.
	Capacity []CapacityCheck `json:"capacity,omitempty"`
	// Hidden is the ATA hidden-area state (HPA, DCO).
	Hidden *HiddenState `json:"hiddenAreas,omitempty"`
}

// Lookup returns the capability entry for a technique.
func (c Capabilities) Lookup(id TechniqueID) (Capability, bool) {
	for _, it := range c.Items {
		if it.Technique == id {
			return it, true
		}
	}
	return Capability{}, false
}

// Request is what the operator asked for.
type Request struct {
	Policy Policy
	// Technique forces one technique (--technique); empty lets the
	// planner choose.
	Technique TechniqueID
	// Method is the overwrite method, used when the plan is a host
	// overwrite. MethodExplicit is true when the operator chose it
	// (--method or --passes), which asks for a host overwrite.
	Method         Method
	MethodExplicit bool
}

// Considered is one technique the planner looked at, and its verdict.
type Considered struct {
	Technique TechniqueID `json:"technique"`
	Category  Category    `json:"category"`
	Available bool        `json:"available"`
	Reason    string      `json:"reason,omitempty"`
	// Estimate is the drive's own time estimate for the technique.
	Estimate time.Duration `json:"estimate,omitempty"`
}

// Plan is what will be done to one drive, and why.
type Plan struct {
	Technique Technique `json:"technique"`
	Category  Category  `json:"category"`
	// Method is set when Technique is a host overwrite.
	Method   Method        `json:"method"`
	Estimate time.Duration `json:"estimate,omitempty"`
	// Decision is the reasoning, one step per line, for the certificate.
	Decision   []string     `json:"decision"`
	Considered []Considered `json:"considered"`
	// Refusal is set when no technique satisfies the policy
	// (purge-or-fail): the drive is not touched and the run fails.
	Refusal string `json:"refusal,omitempty"`
}

// NewPlan chooses the technique for d from its capabilities and the
// operator's request.
func NewPlan(d *devices.Device, caps Capabilities, req Request) Plan {
	if req.Policy == "" {
		req.Policy = PolicyPurge
	}
	var p Plan
	note := func(format string, args ...any) { p.Decision = append(p.Decision, fmt.Sprintf(format, args...)) }
	note("policy %s; drive: %s %s over %s", req.Policy, media(d), devices.HumanBytes(d.SizeBytes), d.Transport)
	if caps.ProbeError != "" {
		note("firmware techniques unavailable: %s", caps.ProbeError)
	}
	rotating := driveRotating(caps)
	switch {
	case caps.Rotational != nil && *caps.Rotational != d.Rotational:
		note("the drive reports itself %s (the OS said %s): categories follow the drive", rotName(*caps.Rotational), rotName(d.Rotational))
	case caps.Rotational == nil && d.Rotational && caps.Interface != "":
		note("the drive does not report whether it rotates; the OS's queue/rotational says rotating, but the sd driver sets that unless the drive says otherwise, so it is no evidence: categories follow flash media, the weaker ones")
	}
	order := preference[caps.Interface]
	if order == nil {
		order = preference[""]
	}
	// Evaluate every technique in the reviewed order.
	for _, id := range order {
		t, _ := LookupTechnique(id)
		c := Considered{Technique: id, Category: t.CategoryOn(rotating)}
		switch {
		case id == TechOverwrite:
			c.Available, c.Reason = overwritePossible(d)
			if cp, ok := caps.Lookup(TechOverwrite); ok && c.Available {
				switch {
				case !cp.Available:
					c.Available, c.Reason = false, cp.Reason
				case cp.Reason != "" && c.Reason != "":
					c.Reason += "; " + cp.Reason
				case cp.Reason != "":
					c.Reason = cp.Reason
				}
			}
		default:
			cp, ok := caps.Lookup(id)
			switch {
			case !ok:
				c.Reason = "not advertised by the drive"
			case !cp.Available:
				c.Reason = cp.Reason
			default:
				c.Available = true
				c.Reason = cp.Reason
			}
			c.Estimate = cp.Estimate
		}
		p.Considered = append(p.Considered, c)
	}
	choose := func(c Considered, why string) Plan {
		t, _ := LookupTechnique(c.Technique)
		p.Technique, p.Category = t, c.Category
		if c.Technique == TechOverwrite {
			p.Method = req.Method
		} else if cp, ok := caps.Lookup(c.Technique); ok {
			p.Estimate = cp.Estimate
		}
		note("%s", why)
		if c.Technique == TechOverwrite && !req.MethodExplicit {
			note("overwrite method %s (default): %s", req.Method.Name, req.Method.Description)
		}
		return p
	}
	find := func(pred func(Considered) bool) (Considered, bool) {
		i := slices.IndexFunc(p.Considered, pred)
		if i < 0 {
			return Considered{}, false
		}
		return p.Considered[i], true
	}
	unavailable := func(want Category) string {
		var rs []string
		for _, c := range p.Considered {
			if c.Category == want && !c.Available {
				rs = append(rs, fmt.Sprintf("%s: %s", c.Technique, c.Reason))
			}
		}
		if len(rs) == 0 {
			return "the drive's interface offers none"
		}
		return strings.Join(rs, "; ")
	}

	switch {
	case req.Technique != "":
		c, ok := find(func(c Considered) bool { return c.Technique == req.Technique })
		t, _ := LookupTechnique(req.Technique)
		switch {
		case t.Category == CategoryNone:
			p.Refusal = fmt.Sprintf("technique %s erases nothing (%s)", req.Technique, t.Reference)
		case !ok:
			p.Refusal = fmt.Sprintf("technique %s does not apply to a %s drive", req.Technique, orNone(caps.Interface))
		case !c.Available:
			p.Refusal = fmt.Sprintf("technique %s is not available: %s", req.Technique, c.Reason)
		case req.Policy == PolicyPurgeOrFail && c.Category != CategoryPurge:
			p.Refusal = fmt.Sprintf("--technique %s achieves %s, and the policy is purge-or-fail", req.Technique, c.Category)
		default:
			return choose(c, fmt.Sprintf("%s chosen by --technique (%s)", req.Technique, c.Category))
		}
		return p
	case req.MethodExplicit:
		c, _ := find(func(c Considered) bool { return c.Technique == TechOverwrite })
		if !c.Available {
			p.Refusal = "host overwrite impossible: " + c.Reason
			return p
		}
		if req.Policy == PolicyPurgeOrFail {
			p.Refusal = "--method asks for a host overwrite, which is Clear, and the policy is purge-or-fail"
			return p
		}
		return choose(c, fmt.Sprintf("host overwrite with method %s chosen by the operator (%s)", req.Method.Name, c.Category))
	case req.Policy == PolicyClear:
		if c, ok := find(func(c Considered) bool { return c.Technique == TechOverwrite && c.Available }); ok {
			return choose(c, "host overwrite: the policy asks for Clear, which a verified overwrite of every LBA achieves on any drive")
		}
		if c, ok := find(func(c Considered) bool { return c.Available && c.Category != CategoryNone }); ok {
			return choose(c, fmt.Sprintf("%s: host overwrite impossible, first available technique achieving at least Clear", c.Technique))
		}
		p.Refusal = "no technique achieving Clear is available"
		return p
	}
	// purge and purge-or-fail: the strongest available.
	if c, ok := find(func(c Considered) bool { return c.Available && c.Category == CategoryPurge }); ok {
		return choose(c, fmt.Sprintf("%s: the first available Purge technique in the reviewed order", c.Technique))
	}
	why := unavailable(CategoryPurge)
	if req.Policy == PolicyPurgeOrFail {
		p.Refusal = "no Purge technique available (" + why + ") and the policy is purge-or-fail"
		return p
	}
	note("no Purge technique available: %s", why)
	if c, ok := find(func(c Considered) bool { return c.Available && c.Category == CategoryClear }); ok {
		return choose(c, fmt.Sprintf("falling back to %s, which achieves Clear only", c.Technique))
	}
	p.Refusal = "no technique achieving Clear or Purge is available"
	return p
}

// driveRotating is whether the categories of rotating media apply: only
// when the drive itself says it rotates (ATA IDENTIFY word 217, SCSI VPD
// B1h). A drive that does not say gets the flash category, the weaker one
// (IEEE 2883: enhanced security erase is Purge only on rotating media);
// the OS's queue/rotational is no evidence, since the sd driver leaves it
// at 1 unless VPD B1h says otherwise.
func driveRotating(caps Capabilities) bool {
	return caps.Rotational != nil && *caps.Rotational
}

func overwritePossible(d *devices.Device) (bool, string) {
	switch {
	case d.ReadOnly:
		return false, "the device is read-only"
	case d.SizeBytes == 0:
		return false, "the device is empty"
	case d.Media == devices.MediaSSD:
		return true, "on flash, spare and remapped blocks stay out of reach: Clear only"
	}
	return true, ""
}

func rotName(r bool) string {
	if r {
		return "rotating"
	}
	return "solid state"
}

func media(d *devices.Device) string {
	if d.Rotational {
		return "rotating"
	}
	return string(d.Media)
}

func orNone(s string) string {
	if s == "" {
		return "no pass-through"
	}
	return s
}
