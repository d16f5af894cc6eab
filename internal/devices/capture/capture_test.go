package capture

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lethe-project/lethe/internal/devices/ata"
	"github.com/lethe-project/lethe/internal/devices/ata/atasim"
	"github.com/lethe-project/lethe/internal/devices/nvme"
	"github.com/lethe-project/lethe/internal/devices/probe"
	"github.com/lethe-project/lethe/internal/devices/simdisk"
	"github.com/lethe-project/lethe/internal/testutil"
)

const dir = "../testdata/captures"

func load(t *testing.T, id string) *Capture {
	t.Helper()
	c, err := Load(filepath.Join(dir, id))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestLoadAllHasProvenance(t *testing.T) {
	cs, err := LoadAll(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		p := c.Provenance
		if !strings.HasPrefix(p.URL, "https://") || p.Model == "" || p.Source == "" || p.Interface == "" || p.Media == "" {
			t.Errorf("%s: incomplete provenance %+v", c.ID, p)
		}
		if string(c.Kind) != map[string]string{"nvme": "nvme", "ata": "ata", "scsi": "scsi"}[p.Interface] {
			t.Errorf("%s: replayed as %s, provenance says %s", c.ID, c.Kind, p.Interface)
		}
		if _, err := c.Probe(context.Background()); err != nil {
			t.Errorf("%s: %v", c.ID, err)
		}
	}
}

func TestIDCtrlText(t *testing.T) {
	c := load(t, "nvme-kioxia-xg6-kxg6aznv512g")
	ctrl := c.nvme.ctrl
	if ctrl.Model != "KXG6AZNV512G TOSHIBA" || ctrl.SANICAP != 0x3 || ctrl.FNA != 0x4 || ctrl.OACS != 0x1f || ctrl.NN != 1 ||
		ctrl.IEEE != 0x8ce38e || ctrl.TNVMCAP != 512110190592 || ctrl.Version != 0x10300 || ctrl.VID != 0x1179 {
		t.Fatalf("%+v", ctrl)
	}
	// Old nvme-cli prints ver in hex without 0x.
	c = load(t, "nvme-micron-9200-mtfdhal1t6tcu")
	if c.nvme.ctrl.Version != 0x10200 || c.nvme.ctrl.OACS != 0xe || c.nvme.ctrl.SANICAP != 0 {
		t.Fatalf("%+v", c.nvme.ctrl)
	}
	if _, err := ParseIDCtrlText("vid : 0x1\n"); err == nil {
		t.Fatal("no mn/sn accepted")
	}
}

// nvme-cli's id-ns and sanitize-log layouts (src/nvme-print-stdout.c).
func TestIDNSAndSanitizeLogText(t *testing.T) {
	page, nsid, err := ParseIDNSText(`NVME Identify Namespace 2:
nsze    : 0xdf8fe2b0
ncap    : 0xdf8fe2b0
nuse    : 0x1b7c1d20
nsfeat  : 0x2
nlbaf   : 1
flbas   : 0x1
nmic    : 0x1
fpi     : 0x80
dlfeat  : 9
nguid   : 36344730526054940025384500000001
eui64   : 0025384591b00a7f
lbaf  0 : ms:0   lbads:9  rp:0x2
lbaf  1 : ms:0   lbads:12 rp:0 (in use)
`)
	if err != nil || nsid != 2 {
		t.Fatal(nsid, err)
	}
	n, err := nvme.ParseNamespace(page)
	if err != nil || n.NSZE != 0xdf8fe2b0 || n.BlockSize() != 4096 || !n.Shared() || !n.DeallocReadsZero() || n.ID() != "eui.36344730526054940025384500000001" {
		t.Fatalf("%+v %v", n, err)
	}
	log, err := ParseSanitizeLogText(`Sanitize Progress                      (SPROG) :  65535
Sanitize Status                        (SSTAT) :  0x101
Sanitize Command Dword 10 Information (SCDW10) :  0x204
Estimated Time For Overwrite                   :  4294967295 (No time period reported)
Estimated Time For Block Erase                 :  120
Estimated Time For Crypto Erase                :  6
Estimated Time For Overwrite (No-Deallocate)   :  4294967295 (No time period reported)
Estimated Time For Block Erase (No-Deallocate) :  130
Estimated Time For Crypto Erase (No-Deallocate):  7
`)
	if err != nil {
		t.Fatal(err)
	}
	l, err := nvme.ParseSanitizeLog(log)
	if err != nil || l.Status != nvme.SanitizeSuccess || !l.GlobalDataErased || l.SCDW10 != 0x204 || l.ETBE != 120 || l.ETCEND != 7 || l.ETO != nvme.NotReported {
		t.Fatalf("%+v %v", l, err)
	}
	if ids := ParseNVMeList("/dev/nvme0n1  S1 M 1\n/dev/nvme0n3 S1 M\n/dev/nvme1n1 S2 M\n"); fmt.Sprint(ids) != "[1 3]" { // parser input text: never opened
		t.Fatal(ids)
	}
}

func TestHdparmI(t *testing.T) {
	c := load(t, "sata-ssd-wdc-wds400t2b0a")
	id := c.ata.id
	if id.Model != "WDC  WDS400T2B0A-00SM50" || id.Sectors != 7814037168 || id.RotationRate != 1 || !id.Sanitize.Supported || !id.Sanitize.BlockErase ||
		id.Sanitize.Crypto || !id.Security.Supported || !id.Security.EnhancedErase || id.Security.EraseTime == 0 || !id.AMASupported || id.HPASupported || id.Checksum != ata.ChecksumValid {
		t.Fatalf("%+v", id)
	}
	// Mail clients turn tabs into no-break spaces.
	c = load(t, "sata-ssd-samsung-840evo")
	if c.ata.id.Model != "Samsung SSD 840 EVO 120GB" || c.ata.id.RotationRate != 1 {
		t.Fatalf("%+v", c.ata.id)
	}
	if n, ok := ParseHdparmN("\n/dev/sda:\n max sectors   = 1953525168/1953525168, HPA is disabled\n"); !ok || n != 1953525167 { // parser input text: never opened
		t.Fatal(n, ok)
	}
}

// hdparm's own decoder checks the reconstruction: IDENTIFY words an atasim
// drive returns go through `hdparm --Istdin` (hdparm 9.65 prints -I from
// --Istdout words) and back through ParseHdparmI; every word lethe reads
// must come back equal.
func TestHdparmIRoundTrip(t *testing.T) {
	hdparm := testutil.RequireCommand(t, "hdparm")
	for i, cfg := range []atasim.Config{
		{Sanitize: true, Antifreeze: true, EnhancedErase: true, EraseTime: 10, EnhancedEraseTime: 0x812c, RotationRate: 1, WWN: 0x5000c500a1b2c3d4, TRIM: true, Sectors: 1 << 21},
		{UserPassword: []byte("pw"), RotationRate: 7200, Sectors: 1 << 24},
		{AMA: true, Sanitize: true, Crypto: true, FrozenAtPowerOn: true, NoRotationRate: true},
	} {
		// A sparse file stands in for a medium of a real drive's size.
		sectors := max(cfg.Sectors, 32768)
		f, err := os.Create(filepath.Join(t.TempDir(), "medium"))
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Truncate(int64(sectors) * 512); err != nil {
			t.Fatal(err)
		}
		if cfg.Disk, err = simdisk.NewFile(f, 512); err != nil {
			t.Fatal(err)
		}
		d := atasim.MustNew(cfg)
		id, err := ata.New(d).Identify(context.Background())
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		var words strings.Builder
		for w := 0; w < 256; w++ {
			fmt.Fprintf(&words, "%04x ", binary.LittleEndian.Uint16(id.Raw[2*w:]))
			if w%8 == 7 {
				words.WriteString("\n")
			}
		}
		cmd := exec.Command(hdparm, "--Istdin")
		cmd.Stdin = strings.NewReader(words.String())
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("hdparm --Istdin: %v\n%s", err, out)
		}
		page, err := ParseHdparmI(string(out))
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		got, err := ata.ParseIdentify(page)
		if err != nil {
			t.Fatal(err)
		}
		want := id
		for _, c := range []struct {
			name string
			a, b any
		}{
			{"model", got.Model, want.Model}, {"sectors", got.Sectors, want.Sectors}, {"rotation", got.RotationRate, want.RotationRate},
			// Word 59 bit 11 (ACS-3 commands allowed by sanitize) has no
			// line in hdparm -I; lethe does not use it.
			{"sanitize", [5]bool{got.Sanitize.Supported, got.Sanitize.Crypto, got.Sanitize.Overwrite, got.Sanitize.BlockErase, got.Sanitize.AntifreezeLock},
				[5]bool{want.Sanitize.Supported, want.Sanitize.Crypto, want.Sanitize.Overwrite, want.Sanitize.BlockErase, want.Sanitize.AntifreezeLock}}, {"security", got.Security, want.Security}, {"hpa", got.HPASupported, want.HPASupported},
			{"dco", got.DCOSupported, want.DCOSupported}, {"ama", got.AMASupported, want.AMASupported}, {"wwn", got.WWN, want.WWN}, {"trim", got.TRIM, want.TRIM},
		} {
			if fmt.Sprint(c.a) != fmt.Sprint(c.b) {
				t.Errorf("config %d, %s: parsed %v, drive said %v\n%s", i, c.name, c.a, c.b, out)
			}
		}
	}
}

// What smartctl does not print is unknown, not absent.
func TestSmartctlUnknowns(t *testing.T) {
	in, err := load(t, "nvme-samsung-pm9a3-mz1l21t9").Probe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if in.IsUnknown(probe.UnknownSANICAP) == "" || in.IsUnknown(probe.UnknownFNA) == "" || in.NVMe.Controller.OACS != 0x5f || in.NVMe.Controller.NN != 32 || in.NVMe.Namespace() == nil {
		t.Fatalf("%+v %+v", in.Unknown, in.NVMe.Controller)
	}
	in, err = load(t, "sata-hdd-hgst-huh721010ale600").Probe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if in.IsUnknown(probe.UnknownWord59) == "" || in.ATA.Identify.RotationRate != 7200 || !in.ATA.Identify.Security.Supported {
		t.Fatalf("%+v %+v", in.Unknown, in.ATA.Identify)
	}
	in, err = load(t, "sas-ssd-hgst-husmm1640ass200").Probe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if in.SCSI.Sanitize != nil || in.SCSI.BDC == nil || !in.SCSI.BDC.NonRotating || in.SCSI.Capacity.Bytes() != 400088457216 || in.SCSI.Inquiry.Product != "HUSMM1640ASS200" {
		t.Fatalf("%+v", in.SCSI)
	}
}

func TestSgText(t *testing.T) {
	var d scsiData
	if err := d.fromSgReadcap(`Read Capacity results:
   Protection: prot_en=1, p_type=1, p_i_exponent=0 [type 2 protection]
   Logical block provisioning: lbpme=0, lbprz=0
   Last LBA=1953525167 (0x74706daf), Number of logical blocks=1953525168
   Logical block length=512 bytes
`); err != nil || d.capacity.ProtectionType() != 2 || d.capacity.Blocks != 1953525168 {
		t.Fatalf("%+v %v", d.capacity, err)
	}
	if err := d.fromSgVPDBDC("Block device characteristics VPD page (SBC):\n  Nominal rotation rate: 7200 rpm\n"); err != nil || d.rotation != 7200 {
		t.Fatal(d.rotation, err)
	}
	if err := d.fromSgOpcodes("  Opcode  Service    CDB    Name\n  (hex)   action(h)  size\n  04                6    Format unit\n  48      3        10    Sanitize, cryptographic erase\n"); err != nil ||
		!d.opcodes["48/3"].Supported() || d.opcodes["48/2"].Supported() || !d.opcodes["04"].Supported() {
		t.Fatalf("%+v %v", d.opcodes, err)
	}
}
