package nvme

import (
	"fmt"
	"testing"

	"github.com/lethe-project/lethe/internal/devices/internal/golden"
)

// TestGoldenCommands compares lethe's admin commands with what nvme-cli 2.3
// puts in struct nvme_passthru_cmd (testdata/golden/tools.txt) or what the
// spec lays out (spec.txt).
func TestGoldenCommands(t *testing.T) {
	g, err := golden.Load()
	if err != nil {
		t.Fatal(err)
	}
	san := func(r SanitizeRequest) *Command {
		c, err := SanitizeCmd(r)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	form := func(r FormatRequest) *Command {
		c, err := FormatCmd(r)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	id := make([]byte, IdentifyDataBytes)
	cases := map[string]*Command{
		"nvme-identify-controller":       IdentifyCmd(CNSController, 0, id),
		"nvme-identify-namespace":        IdentifyCmd(CNSNamespace, 1, id),
		"nvme-active-ns-list":            IdentifyCmd(CNSActiveNSList, 0, id),
		"nvme-sanitize-log":              GetLogPageCmd(LogSanitizeStatus, BroadcastNSID, make([]byte, SanitizeLogBytes), false, 0),
		"nvme-format-ses2-lbaf1":         form(FormatRequest{NSID: 1, LBAF: 1, SES: SESCrypto}),
		"nvme-format-ses1-broadcast":     form(FormatRequest{NSID: BroadcastNSID, LBAF: 0, SES: SESUserData}),
		"nvme-format-ses0":               form(FormatRequest{NSID: 1}),
		"nvme-format-lbaf17":             form(FormatRequest{NSID: 1, LBAF: 17, SES: SESUserData}),
		"nvme-sanitize-block":            san(SanitizeRequest{Action: SanitizeBlockErase}),
		"nvme-sanitize-crypto-ause-ndas": san(SanitizeRequest{Action: SanitizeCryptoErase, AUSE: true, NoDeallocate: true}),
		"nvme-sanitize-overwrite":        san(SanitizeRequest{Action: SanitizeOverwrite, OverwritePasses: 3, InvertBetweenPasses: true, Pattern: 0xdeadbeef}),
		"nvme-sanitize-overwrite-16":     san(SanitizeRequest{Action: SanitizeOverwrite, OverwritePasses: 16}),
		"nvme-sanitize-exit-failure":     san(SanitizeRequest{Action: SanitizeExitFailureMode}),
	}
	for name, c := range cases {
		e, ok := g[name]
		if !ok || e.Kind != "nvme" {
			t.Errorf("%s: no nvme golden entry", name)
			continue
		}
		got := map[string]uint64{
			"opc": uint64(c.Opcode), "nsid": uint64(c.NSID), "cdw2": uint64(c.CDW2), "cdw3": uint64(c.CDW3),
			"cdw10": uint64(c.CDW10), "cdw11": uint64(c.CDW11), "cdw12": uint64(c.CDW12),
			"cdw13": uint64(c.CDW13), "cdw14": uint64(c.CDW14), "cdw15": uint64(c.CDW15),
		}
		for k, v := range got {
			if want := e.Uint(k); v != want {
				t.Errorf("%s: %s = 0x%x, golden 0x%x (%s)", name, k, v, want, e.Origin)
			}
		}
		if dl := fmt.Sprint(len(c.Data)); dl != e.Fields["data_len"] {
			t.Errorf("%s: data_len %s, golden %s", name, dl, e.Fields["data_len"])
		}
	}
}
