package wipe

import (
	"strings"
	"testing"

	"github.com/lethe-project/lethe/internal/devices"
)

var (
	nvmeSSD = &devices.Device{Path: "/dev/nvme0n1", Transport: devices.TransportNVMe, Media: devices.MediaSSD, SizeBytes: 1 << 40}               // fixture: never opened
	sataSSD = &devices.Device{Path: "/dev/sda", Transport: devices.TransportSATA, Media: devices.MediaSSD, SizeBytes: 1 << 40}                   // fixture: never opened
	sataHDD = &devices.Device{Path: "/dev/sdb", Transport: devices.TransportSATA, Media: devices.MediaHDD, Rotational: true, SizeBytes: 1 << 40} // fixture: never opened
	sasHDD  = &devices.Device{Path: "/dev/sdc", Transport: devices.TransportSAS, Media: devices.MediaHDD, Rotational: true, SizeBytes: 1 << 40}  // fixture: never opened
	loopDev = &devices.Device{Path: "/dev/loop9", Transport: devices.TransportLoop, Media: devices.MediaVirtual, SizeBytes: 1 << 30}             // fixture: never opened
)

func caps(iface string, avail ...TechniqueID) Capabilities {
	c := Capabilities{Interface: iface}
	for _, id := range preference[iface] {
		if id == TechOverwrite {
			continue
		}
		it := Capability{Technique: id, Reason: "not supported (test)"}
		for _, a := range avail {
			if a == id {
				it = Capability{Technique: id, Available: true}
			}
		}
		c.Items = append(c.Items, it)
	}
	return c
}

// rotatingCaps is caps from a drive that reports itself rotating.
func rotatingCaps(c Capabilities) Capabilities {
	r := true
	c.Rotational = &r
	return c
}

func defaultReq(p Policy) Request {
	m, _ := ResolveMethod("", nil, false)
	return Request{Policy: p, Method: m}
}

func TestPlanner(t *testing.T) {
	for _, tc := range []struct {
		name    string
		dev     *devices.Device
		caps    Capabilities
		req     Request
		want    TechniqueID
		cat     Category
		refusal string
	}{
		{"nvme all", nvmeSSD, caps("nvme", TechNVMeSanitizeCrypto, TechNVMeSanitizeBlock, TechNVMeFormatCrypto), defaultReq(PolicyPurge), TechNVMeSanitizeCrypto, CategoryPurge, ""},
		{"nvme block only", nvmeSSD, caps("nvme", TechNVMeSanitizeBlock, TechNVMeFormatUserData), defaultReq(PolicyPurge), TechNVMeSanitizeBlock, CategoryPurge, ""},
		{"nvme format crypto", nvmeSSD, caps("nvme", TechNVMeFormatCrypto, TechNVMeFormatUserData), defaultReq(PolicyPurge), TechNVMeFormatCrypto, CategoryPurge, ""},
		// QEMU's NVMe: SANICAP=0, FNA=0: only Format SES=1 (Clear).
		{"qemu nvme purge", nvmeSSD, caps("nvme", TechNVMeFormatUserData), defaultReq(PolicyPurge), TechNVMeFormatUserData, CategoryClear, ""},
		{"qemu nvme purge-or-fail", nvmeSSD, caps("nvme", TechNVMeFormatUserData), defaultReq(PolicyPurgeOrFail), "", "", "no Purge technique available"},
		{"nvme clear policy overwrites", nvmeSSD, caps("nvme", TechNVMeSanitizeCrypto), defaultReq(PolicyClear), TechOverwrite, CategoryClear, ""},
		{"ata ssd enhanced is clear", sataSSD, caps("ata", TechATASecurityEnhanced), defaultReq(PolicyPurge), TechATASecurityEnhanced, CategoryClear, ""},
		{"ata hdd enhanced is purge", sataHDD, rotatingCaps(caps("ata", TechATASecurityEnhanced, TechATASecurityNormal)), defaultReq(PolicyPurgeOrFail), TechATASecurityEnhanced, CategoryPurge, ""},
		// IDENTIFY word 217 = 0: the OS's queue/rotational is no evidence;
		// enhanced security erase stays Clear.
		{"ata unknown rotation is flash", sataHDD, caps("ata", TechATASecurityEnhanced, TechATASecurityNormal), defaultReq(PolicyPurge), TechATASecurityEnhanced, CategoryClear, ""},
		{"ata unknown rotation purge-or-fail", sataHDD, caps("ata", TechATASecurityEnhanced), defaultReq(PolicyPurgeOrFail), "", "", "no Purge technique available"},
		{"ata sanitize first", sataSSD, caps("ata", TechATASanitizeBlock, TechATASecurityEnhanced), defaultReq(PolicyPurge), TechATASanitizeBlock, CategoryPurge, ""},
		{"ata nothing", sataSSD, caps("ata"), defaultReq(PolicyPurge), TechOverwrite, CategoryClear, ""},
		{"scsi crypto", sasHDD, caps("scsi", TechSCSISanitizeCrypto, TechSCSISanitizeOverw), defaultReq(PolicyPurge), TechSCSISanitizeCrypto, CategoryPurge, ""},
		{"scsi none prefers overwrite to format unit", sasHDD, caps("scsi", TechSCSIFormatUnit), defaultReq(PolicyPurge), TechOverwrite, CategoryClear, ""},
		{"loop", loopDev, Capabilities{}, defaultReq(PolicyPurge), TechOverwrite, CategoryClear, ""},
		{"loop purge-or-fail", loopDev, Capabilities{}, defaultReq(PolicyPurgeOrFail), "", "", "no Purge technique available"},
		{"explicit technique", nvmeSSD, caps("nvme", TechNVMeSanitizeCrypto, TechNVMeFormatUserData), Request{Policy: PolicyPurge, Technique: TechNVMeFormatUserData}, TechNVMeFormatUserData, CategoryClear, ""},
		{"explicit technique unavailable", nvmeSSD, caps("nvme"), Request{Policy: PolicyPurge, Technique: TechNVMeFormatCrypto}, "", "", "not available"},
		{"explicit non-erase technique", nvmeSSD, caps("nvme", TechNVMeFormatUserData), Request{Policy: PolicyPurge, Technique: TechNVMeFormatNoErase}, "", "", "erases nothing"},
		{"explicit technique wrong interface", sataSSD, caps("ata"), Request{Policy: PolicyPurge, Technique: TechNVMeFormatCrypto}, "", "", "does not apply"},
		{"explicit clear technique vs purge-or-fail", nvmeSSD, caps("nvme", TechNVMeFormatUserData), Request{Policy: PolicyPurgeOrFail, Technique: TechNVMeFormatUserData}, "", "", "purge-or-fail"},
		{"explicit method", nvmeSSD, caps("nvme", TechNVMeSanitizeCrypto), Request{Policy: PolicyPurge, Method: Method{Name: "zero"}, MethodExplicit: true}, TechOverwrite, CategoryClear, ""},
		{"explicit method purge-or-fail", nvmeSSD, caps("nvme", TechNVMeSanitizeCrypto), Request{Policy: PolicyPurgeOrFail, Method: Method{Name: "zero"}, MethodExplicit: true}, "", "", "purge-or-fail"},
		{"probe failed", sataSSD, Capabilities{Interface: "ata", ProbeError: "SG_IO: permission denied"}, defaultReq(PolicyPurge), TechOverwrite, CategoryClear, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := NewPlan(tc.dev, tc.caps, tc.req)
			if tc.refusal != "" {
				if !strings.Contains(p.Refusal, tc.refusal) {
					t.Fatalf("refusal %q, want %q (plan %s)", p.Refusal, tc.refusal, p.Technique.ID)
				}
				return
			}
			if p.Refusal != "" || p.Technique.ID != tc.want || p.Category != tc.cat {
				t.Fatalf("plan %s (%s) refusal %q, want %s (%s)\n%s", p.Technique.ID, p.Category, p.Refusal, tc.want, tc.cat, strings.Join(p.Decision, "\n"))
			}
			if len(p.Decision) < 2 {
				t.Fatalf("decision not recorded: %v", p.Decision)
			}
		})
	}
}

func TestPlannerRecordsFallbackReasons(t *testing.T) {
	c := caps("nvme", TechNVMeFormatUserData)
	c.Items[3].Reason = "FNA bit 2 (crypto erase) not set"
	p := NewPlan(nvmeSSD, c, defaultReq(PolicyPurge))
	all := strings.Join(p.Decision, "\n")
	if !strings.Contains(all, "no Purge technique available") || !strings.Contains(all, "nvme-format-crypto: FNA bit 2 (crypto erase) not set") || !strings.Contains(all, "achieves Clear only") {
		t.Fatalf("decision does not explain the fallback:\n%s", all)
	}
}

func TestEveryTechniqueInTable(t *testing.T) {
	for iface, ids := range preference {
		for _, id := range ids {
			if _, ok := LookupTechnique(id); !ok {
				t.Errorf("%s preference names %s, which is not in the technique table", iface, id)
			}
		}
		if ids[len(ids)-1] != TechOverwrite && iface != "scsi" {
			t.Errorf("%s preference does not end with host overwrite", iface)
		}
	}
	// Never an erase: not in any preference list.
	for _, ids := range preference {
		for _, id := range ids {
			if id == TechNVMeFormatNoErase || id == TechDiscard {
				t.Errorf("%s is in a preference list", id)
			}
		}
	}
}
