package tests

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/lethe-project/lethe"

// deps lists the packages pkg depends on (not its tests): lethe's own by
// path relative to the module, others by import path, and whether each
// is in the standard library.
func deps(t *testing.T, pkg string) (own []string, external []string) {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.Standard}} {{.ImportPath}}", module+"/"+pkg).Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		std, path, _ := strings.Cut(line, " ")
		switch {
		case std == "true":
		case path == module+"/"+pkg:
		case strings.HasPrefix(path, module+"/"):
			own = append(own, strings.TrimPrefix(path, module+"/"))
		default:
			external = append(external, path)
		}
	}
	return own, external
}

// TestArchitecture checks the one-way flow ARCHITECTURE.md describes:
// devices -> wipe -> the schema (cert) <- audit, with signing (sign)
// beside the schema, so that the schema, the verifier and the audit store
// build without the storage command layer, on any OS.
func TestArchitecture(t *testing.T) {
	own, ext := deps(t, "cert")
	if len(own) > 0 || len(ext) > 0 {
		t.Errorf("cert must use the standard library only; it imports %v %v", own, ext)
	}
	forbid := func(pkg string, prefixes ...string) {
		t.Helper()
		own, _ := deps(t, pkg)
		for _, d := range own {
			for _, p := range prefixes {
				if d == p || strings.HasPrefix(d, p+"/") {
					t.Errorf("%s imports %s", pkg, d)
				}
			}
		}
	}
	allow := func(pkg string, allowed ...string) {
		t.Helper()
		own, _ := deps(t, pkg)
	next:
		for _, d := range own {
			for _, a := range allowed {
				if d == a || strings.HasPrefix(d, a+"/") {
					continue next
				}
			}
			t.Errorf("%s imports %s, which it must not", pkg, d)
		}
	}
	allow("sign", "internal/durable")
	allow("attest", "cert", "sign", "internal/durable")
	engine := []string{"internal/devices", "internal/wipe", "internal/station", "internal/agent", "internal/image", "internal/pxe"}
	// Every package of the audit store and the verifier, and the
	// renderers: none may need the storage command layer.
	out, err := exec.Command("go", "list", module+"/audit/...", module+"/internal/audit/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	auditPkgs := []string{"internal/certpdf", "internal/certview"}
	for _, p := range strings.Fields(string(out)) {
		auditPkgs = append(auditPkgs, strings.TrimPrefix(p, module+"/"))
	}
	for _, pkg := range auditPkgs {
		forbid(pkg, engine...)
	}
	allow("audit/logverify")
	forbid("internal/devices", "internal/wipe", "internal/station", "internal/agent", "internal/audit", "attest")
	forbid("internal/wipe", "internal/station", "internal/agent", "internal/audit", "attest")
	forbid("internal/station", "internal/agent", "internal/audit/server", "internal/audit/store", "internal/image")
	// The PXE server serves an image; it does not build one (the image's
	// file names come from its layout, internal/image/manifest).
	if own, _ := deps(t, "internal/pxe"); contains(own, "internal/image") {
		t.Errorf("internal/pxe imports the image builder internal/image")
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
