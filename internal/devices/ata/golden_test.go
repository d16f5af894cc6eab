package ata

import (
	"bytes"
	"strconv"
	"testing"

	"github.com/lethe-project/lethe/internal/devices/internal/golden"
)

func mustSan(t *testing.T, f SanitizeFeature, o SanitizeOptions) *Command {
	t.Helper()
	c, err := SanitizeCmd(f, o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestGoldenCommands compares lethe's ATA PASS-THROUGH(16) CDBs and PIO
// data blocks with what hdparm 9.65 sends (testdata/golden/tools.txt) or
// what ACS-4 lays out (spec.txt).
func TestGoldenCommands(t *testing.T) {
	g, err := golden.Load()
	if err != nil {
		t.Fatal(err)
	}
	pw, _ := NewPassword("PW")
	master := pw
	master.Master, master.MasterID = true, 1
	userMax := pw
	userMax.Maximum = true
	cases := map[string]*Command{
		"ata-identify":                     {TF: TaskFile{Count: 1, Device: DeviceLBA, Command: CmdIdentify}, Protocol: ProtoPIOIn, Data: make([]byte, 512)},
		"ata-security-set-user":            SecuritySetPasswordCmd(pw),
		"ata-security-set-user-max":        SecuritySetPasswordCmd(userMax),
		"ata-security-set-master":          SecuritySetPasswordCmd(master),
		"ata-security-unlock":              SecurityUnlockCmd(pw),
		"ata-security-disable":             SecurityDisablePasswordCmd(pw),
		"ata-security-erase-prepare":       SecurityErasePrepareCmd(),
		"ata-security-erase":               SecurityEraseUnitCmd(pw, false, 0),
		"ata-security-erase-enh-master":    SecurityEraseUnitCmd(master, true, 0),
		"ata-sanitize-status":              SanitizeStatusCmd(false),
		"ata-sanitize-status-clear":        SanitizeStatusCmd(true),
		"ata-sanitize-crypto":              mustSan(t, SanitizeCryptoScramble, SanitizeOptions{}),
		"ata-sanitize-crypto-failure-mode": mustSan(t, SanitizeCryptoScramble, SanitizeOptions{FailureMode: true}),
		"ata-sanitize-block":               mustSan(t, SanitizeBlockErase, SanitizeOptions{}),
		"ata-sanitize-overwrite":           mustSan(t, SanitizeOverwrite, SanitizeOptions{Pattern: 0x11223344, Passes: 3}),
		"ata-sanitize-overwrite-16-invert": mustSan(t, SanitizeOverwrite, SanitizeOptions{Passes: 16, Invert: true}),
		"ata-sanitize-antifreeze":          mustSan(t, SanitizeAntifreezeLock, SanitizeOptions{}),
		"ata-read-native-max":              ReadNativeMaxCmd(),
		"ata-set-max-volatile":             SetMaxCmd(999, true),
		"ata-set-max-permanent":            SetMaxCmd(999, false),
		"ata-dco-identify":                 DCOIdentifyCmd(make([]byte, 512)),
		"ata-dco-restore":                  DCORestoreCmd(),
	}
	for name, c := range cases {
		e, ok := g[name]
		if !ok {
			t.Errorf("%s: no golden entry", name)
			continue
		}
		if got, want := c.CDB(), e.Hex("cdb"); !bytes.Equal(got, want) {
			t.Errorf("%s: CDB\n got %x\nwant %x (%s)", name, got, want, e.Origin)
		}
		dir := map[Protocol]string{ProtoNonData: "none", ProtoPIOIn: "in", ProtoPIOOut: "out"}[c.Protocol]
		if dir != e.Dir() {
			t.Errorf("%s: direction %s, golden %s", name, dir, e.Dir())
		}
		if c.Protocol == ProtoPIOOut {
			if got, want := bytes.TrimRight(c.Data, "\x00"), e.Hex("data"); !bytes.Equal(got, want) {
				t.Errorf("%s: data\n got %x\nwant %x (%s)", name, got, want, e.Origin)
			}
		}
		if c.Protocol != ProtoNonData && e.Fields["len"] != "" && e.Fields["len"] != "512" {
			t.Errorf("%s: golden transfer length %s, lethe sends 512", name, e.Fields["len"])
		}
	}
}

// hdparm's SECURITY ERASE UNIT timeout is the estimate plus an hour; lethe
// uses at least that (testdata: w89 = 10 -> hdparm 4800000 ms).
func TestSecurityEraseTimeoutAtLeastHdparm(t *testing.T) {
	g, err := golden.Load()
	if err != nil {
		t.Fatal(err)
	}
	id := &Identify{Security: SecurityInfo{EraseTime: 20 * 60e9, EnhancedEraseTime: 40 * 60e9}}
	for name, enh := range map[string]bool{"ata-security-erase": false, "ata-security-erase-enh-master": true} {
		want, err := strconv.ParseInt(g[name].Fields["timeout"], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		if ms := id.SecurityEraseTimeout(enh).Milliseconds(); ms < want {
			t.Errorf("%s: lethe timeout %d ms < hdparm's %d ms", name, ms, want)
		}
	}
}
