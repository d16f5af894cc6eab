package wipe

import (
	"fmt"
	"slices"
	"strings"

	"github.com/lethe-project/lethe/cert"
)

// Method is a host-overwrite scheme: the patterns of its passes
// (defined by the certificate schema).
type Method = cert.Method

// methods are the named schemes. One pass is enough for NIST Clear on
// modern media (SP 800-88 Rev. 2 §3.1); multi-pass schemes exist because
// contracts and older policies still name them.
var methods = []Method{
	{Name: "random", Description: "one pass of AES-128-CTR pseudorandom data", Passes: []string{"random"}},
	{Name: "zero", Description: "one pass of zeros", Passes: []string{"zero"}},
	{Name: "one", Description: "one pass of 0xFF", Passes: []string{"one"}},
	{Name: "dod", Description: "DoD 5220.22-M 3-pass: a character (0x00), its complement (0xFF), random", Passes: []string{"zero", "one", "random"}},
}

// DefaultMethod is used when the operator names none: a single random pass
// can be checked byte for byte, and unlike zeros it cannot be mistaken for
// deallocated blocks that read back as zero.
const DefaultMethod = "random"

// Methods returns the named schemes.
func Methods() []Method { return slices.Clone(methods) }

// ResolveMethod turns --method, --passes and --final-zero into the list of
// pattern names to write. --passes (a comma-separated list of zero, one,
// random or 0xHEX) defines a custom scheme and excludes --method.
func ResolveMethod(name string, passes []string, finalZero bool) (Method, error) {
	var m Method
	switch {
	case len(passes) > 0 && name != "" && name != "custom":
		return Method{}, fmt.Errorf("--passes defines a custom scheme; do not combine it with --method %s", name)
	case len(passes) > 0:
		for _, p := range passes {
			if _, err := ParsePattern(p); err != nil {
				return Method{}, err
			}
		}
		m = Method{Name: "custom", Description: "custom passes: " + strings.Join(passes, ", "), Passes: slices.Clone(passes)}
	default:
		if name == "" {
			name = DefaultMethod
		}
		i := slices.IndexFunc(methods, func(m Method) bool { return m.Name == name })
		if i < 0 {
			var names []string
			for _, m := range methods {
				names = append(names, m.Name)
			}
			return Method{}, fmt.Errorf("unknown method %q: want one of %s, or --passes", name, strings.Join(names, ", "))
		}
		m = methods[i]
		m.Passes = slices.Clone(m.Passes)
	}
	if finalZero && m.Passes[len(m.Passes)-1] != "zero" {
		m.Passes = append(m.Passes, "zero")
		m.Description += ", then a final pass of zeros"
	}
	return m, nil
}

// VerifyMode says which passes are read back.
type VerifyMode string

// Verification modes (DESIGN.md §3).
const (
	VerifyLast   VerifyMode = "last"   // full read-back of the last pass
	VerifyAll    VerifyMode = "all"    // full read-back after every pass
	VerifySample VerifyMode = "sample" // sampled read-back of the last pass
	VerifyOff    VerifyMode = "off"
)

// ParseVerifyMode parses --verify; "full" is accepted as a synonym of last.
func ParseVerifyMode(s string) (VerifyMode, error) {
	switch VerifyMode(s) {
	case VerifyLast, "full", "":
		return VerifyLast, nil
	case VerifyAll, VerifySample, VerifyOff:
		return VerifyMode(s), nil
	}
	return "", fmt.Errorf("unknown --verify %q: want last (full), all, sample or off", s)
}
