package wipe

import (
	"fmt"
	"slices"
	"strings"

	"github.com/lethe-project/lethe/internal/devices/probe"
)

// scopeVerdict is an EraseScope with lethe's decision on it.
type scopeVerdict struct {
	EraseScope
	// allowed: the erase may run (it reaches only the probed namespace
	// and every affected namespace is accounted for, or the operator
	// allowed more with FirmwareOptions.AllNamespaces).
	allowed bool
	// why explains a refusal, or what the override lets through.
	why string
}

// nvmeScope works out which namespaces an erase affects: only the probed
// namespace, or (subsystem) every namespace of the NVM subsystem, as every
// Sanitize does and a Format NVM does when FNA says so (NVMe Base 2.0
// §5.23, §5.24, Figure 275 FNA). The subsystem's namespaces are the active
// ones (Identify CNS 02h) and, with Namespace Management, the allocated
// ones (CNS 10h), attached to this controller or not. lethe cannot
// account for them when the subsystem may hold other controllers (CMIC bit
// 1) whose namespaces no list names, when the controller refuses CNS 10h
// although it manages namespaces, or when Identify Namespace fails for one.
// A shared namespace (NMIC bit 0) may be in use by another host.
func nvmeScope(n *probe.NVMeInfo, subsystem, override bool) scopeVerdict {
	ctrl := n.Controller
	v := scopeVerdict{EraseScope: EraseScope{Subsystem: subsystem, Override: override}}
	// NSID 0: the controller itself was probed (a capture without a
	// namespace), so every namespace is part of what is being wiped.
	entry := func(id uint32, attached bool) ScopeNamespace {
		e := ScopeNamespace{NSID: id, Attached: attached, Probed: id == n.NSID || n.NSID == 0}
		if ns := n.Namespaces[id]; ns != nil {
			e.ID, e.SizeBytes, e.Shared = ns.ID(), ns.SizeBytes(), ns.Shared()
		}
		return e
	}
	ids := []uint32{n.NSID}
	if subsystem {
		ids = append(append([]uint32(nil), n.Active...), n.Allocated...)
		for id := range n.Namespaces {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		ids = slices.Compact(ids)
	}
	for _, id := range ids {
		if id == 0 {
			continue
		}
		attached := n.Namespaces[id] != nil || slices.Contains(n.Active, id) || slices.Contains(n.Unidentified, id)
		v.Namespaces = append(v.Namespaces, entry(id, attached))
	}
	if subsystem {
		switch {
		case ctrl.MultiController() && n.Allocated == nil:
			v.Unaccounted = append(v.Unaccounted, "the NVM subsystem may contain other controllers (CMIC bit 1) and this one does not list the subsystem's allocated namespaces (Identify CNS 10h, Namespace Management): namespaces attached only to other controllers cannot be counted")
		case ctrl.SupportsNamespaceMgmt() && n.Allocated == nil:
			v.Unaccounted = append(v.Unaccounted, fmt.Sprintf("the controller manages namespaces (OACS bit 3) but its allocated namespace list could not be read (%s): namespaces not attached to it cannot be counted", n.AllocatedError))
		}
		if len(n.Active) >= 1024 || len(n.Allocated) >= 1024 {
			v.Unaccounted = append(v.Unaccounted, "the namespace list is full (1024 entries): more namespaces may exist")
		}
		for _, id := range n.Unidentified {
			v.Unaccounted = append(v.Unaccounted, fmt.Sprintf("namespace %d is active but Identify Namespace failed: its size and identity are unknown", id))
		}
	}
	var others, shared []string
	for _, e := range v.Namespaces {
		if !e.Probed {
			what := fmt.Sprintf("%d", e.NSID)
			if !e.Attached {
				what += " (not attached to this controller)"
			}
			others = append(others, what)
		}
		if e.Shared {
			shared = append(shared, fmt.Sprintf("%d", e.NSID))
		}
	}
	var problems []string
	if n.NSID == 0 && subsystem && len(v.Namespaces) == 0 {
		v.Unaccounted = append(v.Unaccounted, "no namespace is known")
	}
	if len(others) > 0 {
		problems = append(problems, fmt.Sprintf("it also erases namespace(s) %s, not only namespace %d", strings.Join(others, ", "), n.NSID))
	}
	if len(shared) > 0 {
		problems = append(problems, fmt.Sprintf("namespace(s) %s may be attached to other controllers (NMIC bit 0), possibly used by other hosts", strings.Join(shared, ", ")))
	}
	problems = append(problems, v.Unaccounted...)
	switch {
	case len(problems) == 0:
		v.allowed = true
		if subsystem {
			v.Note = fmt.Sprintf("the NVM subsystem holds only namespace %d", n.NSID)
		}
	case override:
		v.allowed = true
		v.why = "--all-namespaces: " + strings.Join(problems, "; ")
		v.Note = v.why
	default:
		v.why = strings.Join(problems, "; ") + ": lethe refuses an erase it cannot confine to the drive being wiped (--all-namespaces allows it, and the certificate then lists every namespace)"
		v.Note = v.why
	}
	return v
}
