package capture

import (
	"os"
	"path/filepath"
	"testing"
)

func seed(f *testing.F, pattern string) {
	m, _ := filepath.Glob(filepath.Join(dir, "*", pattern))
	for _, p := range m {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(string(b))
		}
	}
}

func FuzzIDCtrlText(f *testing.F) {
	seed(f, FileNVMeIDCtrl)
	f.Fuzz(func(t *testing.T, s string) {
		if b, err := ParseIDCtrlText(s); err == nil && len(b) != 4096 {
			t.Fatalf("%d bytes", len(b))
		}
	})
}

func FuzzIDNSAndLogText(f *testing.F) {
	f.Add("nsze : 0x10\nlbaf  0 : ms:0   lbads:9  rp:0 (in use)\n")
	f.Add("Sanitize Progress (SPROG) : 65535\nSanitize Status (SSTAT) : 0x1\n")
	f.Fuzz(func(t *testing.T, s string) {
		_, _, _ = ParseIDNSText(s)
		_, _ = ParseSanitizeLogText(s)
		_ = ParseNVMeList(s)
	})
}

func FuzzHdparmI(f *testing.F) {
	seed(f, FileHdparmI)
	f.Fuzz(func(t *testing.T, s string) {
		if b, err := ParseHdparmI(s); err == nil && len(b) != 512 {
			t.Fatalf("%d bytes", len(b))
		}
		_, _ = ParseIstdout(s)
		_, _ = ParseHdparmN(s)
	})
}

func FuzzSmartctlAndSg(f *testing.F) {
	seed(f, FileSmartctl)
	f.Fuzz(func(t *testing.T, s string) {
		c := &Capture{unknown: map[string]string{}}
		_, _ = c.ataFromSmartctl(s)
		var d scsiData
		_ = d.fromSmartctl(s)
		_ = d.fromSgReadcap(s)
		_ = d.fromSgVPDBDC(s)
		_ = d.fromSgOpcodes(s)
		_ = d.fromSgInq(s)
	})
}
