package conformance

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lethe-project/lethe/internal/devices/ata"
	"github.com/lethe-project/lethe/internal/devices/ata/atasim"
	"github.com/lethe-project/lethe/internal/devices/nvme"
	"github.com/lethe-project/lethe/internal/devices/nvme/nvmesim"
	"github.com/lethe-project/lethe/internal/devices/scsi"
	"github.com/lethe-project/lethe/internal/devices/scsi/scsisim"
)

var ctx = context.Background()

// row is one line of TABLE.md.
type row struct {
	id, field, raw, says, spec, tool, lethe string
	sims                                    map[string]string // nvmesim, atasim, scsisim -> state or "—"
}

func loadTable(t *testing.T) []row {
	t.Helper()
	f, err := os.Open("TABLE.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows []row
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "| ") || strings.HasPrefix(line, "| id ") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), " | ")
		if len(cells) != 10 {
			t.Fatalf("TABLE.md: %d cells in %q", len(cells), line)
		}
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		rows = append(rows, row{id: cells[0], field: cells[1], raw: cells[2], says: cells[3], spec: cells[4], tool: cells[5], lethe: cells[6],
			sims: map[string]string{"nvmesim": cells[7], "atasim": cells[8], "scsisim": cells[9]}})
	}
	return rows
}

// check decodes a row's raw value with lethe's parser and, per
// simulator, produces the raw value from the state the table names.
type check struct {
	lethe func(t *testing.T, raw string) string
	sims  map[string]func(t *testing.T) string
}

func num(t *testing.T, s string) uint64 {
	t.Helper()
	v, err := strconv.ParseUint(s, 0, 64)
	if err != nil {
		t.Fatalf("raw %q: %v", s, err)
	}
	return v
}

// --- NVMe ---

func sanitizeLog(t *testing.T, sstat uint16) *nvme.SanitizeLog {
	b := make([]byte, nvme.SanitizeLogBytes)
	binary.LittleEndian.PutUint16(b[2:], sstat)
	l, err := nvme.ParseSanitizeLog(b)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func sstatText(t *testing.T, raw string) string {
	s := sanitizeLog(t, uint16(num(t, raw))).Status
	return fmt.Sprintf("%s; success=%v", s, s.Succeeded())
}

func nvmeLog(t *testing.T, c *nvmesim.Controller) *nvme.SanitizeLog {
	t.Helper()
	l, err := nvme.GetSanitizeLog(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func sstatOf(t *testing.T, c *nvmesim.Controller) string {
	return fmt.Sprintf("0x%x", uint16(nvmeLog(t, c).Status))
}

func runToEnd(t *testing.T, c *nvmesim.Controller, r nvme.SanitizeRequest) {
	t.Helper()
	if err := nvme.Sanitize(ctx, c, r); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 50 && c.Sanitizing(); i++ {
		if err := c.Advance(1); err != nil {
			t.Fatal(err)
		}
	}
}

func controller(t *testing.T, cfg nvmesim.Config) *nvme.Controller {
	t.Helper()
	c, err := nvme.IdentifyController(ctx, nvmesim.MustNew(cfg))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func ctrlPage(off int, v []byte) *nvme.Controller {
	b := make([]byte, nvme.IdentifyDataBytes)
	copy(b[off:], v)
	c, _ := nvme.ParseController(b)
	return c
}

func le32(v uint64) []byte { return binary.LittleEndian.AppendUint32(nil, uint32(v)) }
func le16(v uint64) []byte { return binary.LittleEndian.AppendUint16(nil, uint16(v)) }

func sanicapText(t *testing.T, raw string) string {
	s := ctrlPage(328, le32(num(t, raw))).Sanitize()
	return fmt.Sprintf("crypto=%v block=%v overwrite=%v", s.Crypto, s.BlockErase, s.Overwrite)
}

func fnaText(t *testing.T, raw string) string {
	f := ctrlPage(524, []byte{byte(num(t, raw))}).Format()
	return fmt.Sprintf("format all=%v secure erase all=%v crypto=%v no broadcast=%v", f.AllNamespaces, f.SecureEraseAllNamespaces, f.CryptoErase, f.NoBroadcastFormat)
}

func nsPage(off int, v byte) *nvme.Namespace {
	b := make([]byte, nvme.IdentifyDataBytes)
	b[off] = v
	n, _ := nvme.ParseNamespace(b)
	return n
}

func simNS(t *testing.T, cfg nvmesim.Config) *nvme.Namespace {
	t.Helper()
	n, err := nvme.IdentifyNamespace(ctx, nvmesim.MustNew(cfg), 1)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func statusText(t *testing.T, raw string) string { return nvme.Status(num(t, raw)).String() }

func statusOf(t *testing.T, err error) string {
	t.Helper()
	se, ok := err.(*nvme.StatusError)
	if !ok {
		t.Fatalf("no NVMe status: %v", err)
	}
	return fmt.Sprintf("0x%X", se.Status.Code())
}

var nvmeChecks = map[string]check{
	"nvme.sstat.never": {sstatText, map[string]func(*testing.T) string{"nvmesim": func(t *testing.T) string {
		return sstatOf(t, nvmesim.MustNew(nvmesim.Config{SANICAP: nvmesim.SANICAPAll}))
	}}},
	"nvme.sstat.success": {sstatText, map[string]func(*testing.T) string{"nvmesim": func(t *testing.T) string {
		c := nvmesim.MustNew(nvmesim.Config{SANICAP: nvmesim.SANICAPAll, ManualProgress: true})
		runToEnd(t, c, nvme.SanitizeRequest{Action: nvme.SanitizeBlockErase, NoDeallocate: true})
		return sstatOf(t, c)
	}}},
	"nvme.sstat.inprogress": {sstatText, map[string]func(*testing.T) string{"nvmesim": func(t *testing.T) string {
		c := nvmesim.MustNew(nvmesim.Config{SANICAP: nvmesim.SANICAPAll, ManualProgress: true})
		if err := nvme.Sanitize(ctx, c, nvme.SanitizeRequest{Action: nvme.SanitizeBlockErase}); err != nil {
			t.Fatal(err)
		}
		return sstatOf(t, c)
	}}},
	"nvme.sstat.failed": {sstatText, map[string]func(*testing.T) string{"nvmesim": func(t *testing.T) string {
		c := nvmesim.MustNew(nvmesim.Config{SANICAP: nvmesim.SANICAPAll, ManualProgress: true, FailAtStep: 1})
		runToEnd(t, c, nvme.SanitizeRequest{Action: nvme.SanitizeBlockErase})
		return sstatOf(t, c)
	}}},
	"nvme.sstat.nd-dealloc": {sstatText, map[string]func(*testing.T) string{"nvmesim": func(t *testing.T) string {
		c := nvmesim.MustNew(nvmesim.Config{SANICAP: nvmesim.SANICAPAll, ManualProgress: true, DeallocateDespiteNDAS: true})
		runToEnd(t, c, nvme.SanitizeRequest{Action: nvme.SanitizeBlockErase, NoDeallocate: true})
		return sstatOf(t, c)
	}}},
	"nvme.sstat.reserved": {sstatText, nil},
	"nvme.sstat.gde": {func(t *testing.T, raw string) string {
		return fmt.Sprintf("global data erased=%v", sanitizeLog(t, uint16(num(t, raw))).GlobalDataErased)
	}, map[string]func(*testing.T) string{"nvmesim": func(t *testing.T) string {
		c := nvmesim.MustNew(nvmesim.Config{SANICAP: nvmesim.SANICAPAll, ManualProgress: true})
		runToEnd(t, c, nvme.SanitizeRequest{Action: nvme.SanitizeCryptoErase})
		l := nvmeLog(t, c)
		if !l.GlobalDataErased {
			return "GDE clear"
		}
		return "0x100"
	}}},
	"nvme.sstat.passes": {func(t *testing.T, raw string) string {
		return fmt.Sprintf("passes=%d", sanitizeLog(t, uint16(num(t, raw))).OverwritePasses)
	}, map[string]func(*testing.T) string{"nvmesim": func(t *testing.T) string {
		c := nvmesim.MustNew(nvmesim.Config{SANICAP: nvmesim.SANICAPAll, ManualProgress: true})
		if err := nvme.Sanitize(ctx, c, nvme.SanitizeRequest{Action: nvme.SanitizeOverwrite, OverwritePasses: 3}); err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("0x%x", uint16(nvmeLog(t, c).OverwritePasses)<<3)
	}}},
	"nvme.sanicap.actions": {sanicapText, map[string]func(*testing.T) string{"nvmesim": func(t *testing.T) string {
		return fmt.Sprintf("0x%x", controller(t, nvmesim.Config{SANICAP: 0x7}).SANICAP&0x7)
	}}},
	"nvme.sanicap.ndi": {func(t *testing.T, raw string) string {
		return fmt.Sprintf("ndi=%v", ctrlPage(328, le32(num(t, raw))).Sanitize().NoDeallocInhibited)
	}, map[string]func(*testing.T) string{"nvmesim": func(t *testing.T) string {
		return fmt.Sprintf("0x%x", controller(t, nvmesim.Config{SANICAP: 0x20000001}).SANICAP&(1<<29))
	}}},
	"nvme.sanicap.nodmmas1": {func(t *testing.T, raw string) string {
		return fmt.Sprintf("nodmmas=%d", ctrlPage(328, le32(num(t, raw))).Sanitize().NODMMAS)
	}, map[string]func(*testing.T) string{"nvmesim": func(t *testing.T) string {
		return fmt.Sprintf("0x%x", controller(t, nvmesim.Config{SANICAP: 0x40000001}).SANICAP&0xc0000000)
	}}},
	"nvme.sanicap.nodmmas2": {func(t *testing.T, raw string) string {
		return fmt.Sprintf("nodmmas=%d", ctrlPage(328, le32(num(t, raw))).Sanitize().NODMMAS)
	}, map[string]func(*testing.T) string{"nvmesim": func(t *testing.T) string {
		return fmt.Sprintf("0x%x", controller(t, nvmesim.Config{SANICAP: 0x80000001}).SANICAP&0xc0000000)
	}}},
	"nvme.fna.all":        {fnaText, map[string]func(*testing.T) string{"nvmesim": fnaSim(0x1)}},
	"nvme.fna.seall":      {fnaText, map[string]func(*testing.T) string{"nvmesim": fnaSim(0x2)}},
	"nvme.fna.crypto":     {fnaText, map[string]func(*testing.T) string{"nvmesim": fnaSim(0x4)}},
	"nvme.fna.nobcast":    {fnaText, map[string]func(*testing.T) string{"nvmesim": fnaSim(0x8)}},
	"nvme.oacs.format":    {oacsText, map[string]func(*testing.T) string{"nvmesim": oacsSim(0x2)}},
	"nvme.oacs.nsmgmt":    {oacsText, map[string]func(*testing.T) string{"nvmesim": oacsSim(0x8)}},
	"nvme.cmic.multictrl": {cmicText, map[string]func(*testing.T) string{"nvmesim": cmicSim(0x2)}},
	"nvme.cmic.multiport": {cmicText, map[string]func(*testing.T) string{"nvmesim": cmicSim(0x1)}},
	"nvme.nmic.shared": {func(t *testing.T, raw string) string {
		return fmt.Sprintf("shared=%v", nsPage(30, byte(num(t, raw))).Shared())
	}, map[string]func(*testing.T) string{"nvmesim": func(t *testing.T) string {
		return fmt.Sprintf("0x%x", simNS(t, nvmesim.Config{Namespaces: []nvmesim.NamespaceConfig{{Shared: true}}}).NMIC)
	}}},
	"nvme.fpi": {func(t *testing.T, raw string) string {
		sup, rem := nsPage(32, byte(num(t, raw))).FormatProgress()
		return fmt.Sprintf("fpi supported=%v remaining=%d%%", sup, rem)
	}, map[string]func(*testing.T) string{"nvmesim": func(t *testing.T) string {
		c := nvmesim.MustNew(nvmesim.Config{OACS: nvmesim.OACSFormat, FormatSteps: 4, FPI: true})
		c.CancelNext(nvme.OpFormatNVM)
		_ = nvme.Format(ctx, c, nvme.FormatRequest{NSID: 1, SES: nvme.SESUserData})
		var n *nvme.Namespace
		for range 4 {
			var err error
			if n, err = nvme.IdentifyNamespace(ctx, c, 1); err != nil {
				t.Fatal(err)
			}
		}
		return fmt.Sprintf("0x%x", n.FPI)
	}}},
	"nvme.dlfeat.zero": {dlfeatText, map[string]func(*testing.T) string{"nvmesim": dlfeatSim(1)}},
	"nvme.dlfeat.ones": {dlfeatText, map[string]func(*testing.T) string{"nvmesim": dlfeatSim(2)}},
	"nvme.eto": {func(t *testing.T, raw string) string {
		l := &nvme.SanitizeLog{ETO: nvme.Estimate(num(t, raw))}
		d, _ := l.Estimate(nvme.SanitizeRequest{Action: nvme.SanitizeOverwrite, OverwritePasses: 1}, nvme.NODMMASNotReported)
		return fmt.Sprintf("1-pass estimate=%s", d)
	}, map[string]func(*testing.T) string{"nvmesim": func(t *testing.T) string {
		return fmt.Sprint(uint32(nvmeLog(t, nvmesim.MustNew(nvmesim.Config{SANICAP: 0x4, ETO: 1600})).ETO))
	}}},
	"nvme.etond": {func(t *testing.T, raw string) string {
		l := &nvme.SanitizeLog{ETO: 1600, ETOND: nvme.Estimate(num(t, raw))}
		r := nvme.SanitizeRequest{Action: nvme.SanitizeOverwrite, OverwritePasses: 1, NoDeallocate: true}
		d1, _ := l.Estimate(r, nvme.NODMMASNotModified)
		d2, _ := l.Estimate(r, nvme.NODMMASModified)
		return fmt.Sprintf("NDAS estimate with NODMMAS 01b=%s; with 10b=%s", d1, d2)
	}, map[string]func(*testing.T) string{"nvmesim": func(t *testing.T) string {
		return fmt.Sprint(uint32(nvmeLog(t, nvmesim.MustNew(nvmesim.Config{SANICAP: 0x4, ETOND: 3200})).ETOND))
	}}},
	"nvme.sc.sanitizeinprogress": {statusText, map[string]func(*testing.T) string{"nvmesim": func(t *testing.T) string {
		c := nvmesim.MustNew(nvmesim.Config{SANICAP: nvmesim.SANICAPAll, OACS: nvmesim.OACSFormat, ManualProgress: true})
		_ = nvme.Sanitize(ctx, c, nvme.SanitizeRequest{Action: nvme.SanitizeBlockErase})
		return statusOf(t, nvme.Format(ctx, c, nvme.FormatRequest{NSID: 1}))
	}}},
	"nvme.sc.sanitizefailed": {statusText, map[string]func(*testing.T) string{"nvmesim": func(t *testing.T) string {
		c := nvmesim.MustNew(nvmesim.Config{SANICAP: nvmesim.SANICAPAll, OACS: nvmesim.OACSFormat, ManualProgress: true, FailAtStep: 1})
		runToEnd(t, c, nvme.SanitizeRequest{Action: nvme.SanitizeBlockErase})
		return statusOf(t, nvme.Format(ctx, c, nvme.FormatRequest{NSID: 1}))
	}}},
	"nvme.sc.formatinprogress": {statusText, map[string]func(*testing.T) string{"nvmesim": func(t *testing.T) string {
		c := nvmesim.MustNew(nvmesim.Config{SANICAP: nvmesim.SANICAPAll, OACS: nvmesim.OACSFormat, FormatSteps: 4, ManualProgress: true})
		c.CancelNext(nvme.OpFormatNVM)
		_ = nvme.Format(ctx, c, nvme.FormatRequest{NSID: 1, SES: nvme.SESUserData})
		return statusOf(t, nvme.Sanitize(ctx, c, nvme.SanitizeRequest{Action: nvme.SanitizeBlockErase}))
	}}},
}

func fnaSim(v uint8) func(*testing.T) string {
	return func(t *testing.T) string { return fmt.Sprintf("0x%x", controller(t, nvmesim.Config{FNA: v}).FNA) }
}

func oacsText(t *testing.T, raw string) string {
	c := ctrlPage(256, le16(num(t, raw)))
	return fmt.Sprintf("format=%v ns mgmt=%v", c.SupportsFormat(), c.SupportsNamespaceMgmt())
}

func oacsSim(v uint16) func(*testing.T) string {
	return func(t *testing.T) string { return fmt.Sprintf("0x%x", controller(t, nvmesim.Config{OACS: v}).OACS) }
}

func cmicText(t *testing.T, raw string) string {
	c := ctrlPage(76, []byte{byte(num(t, raw))})
	return fmt.Sprintf("multi controller=%v multi port=%v", c.MultiController(), c.MultiPort())
}

func cmicSim(v uint8) func(*testing.T) string {
	return func(t *testing.T) string { return fmt.Sprintf("0x%x", controller(t, nvmesim.Config{CMIC: v}).CMIC) }
}

func dlfeatText(t *testing.T, raw string) string {
	n := nsPage(33, byte(num(t, raw)))
	return fmt.Sprintf("reads zero=%v reads ones=%v", n.DeallocReadsZero(), n.DeallocReadsOnes())
}

func dlfeatSim(v uint8) func(*testing.T) string {
	return func(t *testing.T) string {
		return fmt.Sprintf("0x%x", simNS(t, nvmesim.Config{Namespaces: []nvmesim.NamespaceConfig{{DLFEAT: v}}}).DLFEAT)
	}
}

// --- ATA ---

func identifyWord(t *testing.T, w int, v uint16) *ata.Identify {
	t.Helper()
	b := make([]byte, 512)
	binary.LittleEndian.PutUint16(b[2*w:], v)
	id, err := ata.ParseIdentify(b)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func simIdentify(t *testing.T, d *atasim.Drive) (*ata.Identify, []byte) {
	t.Helper()
	id, err := ata.New(d).Identify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return id, id.Raw
}

func simWord(w int, cfg atasim.Config, mask uint16, prep ...func(*atasim.Drive)) func(*testing.T) string {
	return func(t *testing.T) string {
		d := atasim.MustNew(cfg)
		for _, p := range prep {
			p(d)
		}
		_, raw := simIdentify(t, d)
		return fmt.Sprintf("0x%04x", binary.LittleEndian.Uint16(raw[2*w:])&mask)
	}
}

func secText(t *testing.T, raw string) string {
	s := identifyWord(t, 128, uint16(num(t, raw))).Security
	return fmt.Sprintf("%s; enhanced=%v expired=%v", s.State(), s.EnhancedErase, s.CountExpired)
}

func rotText(r *bool) string {
	if r == nil {
		return "rotating=unknown"
	}
	return fmt.Sprintf("rotating=%v", *r)
}

// ataRotating is the rule of internal/wipe (ataRotational): 1 solid state,
// 0401h-FFFEh rpm, anything else not reported.
func ataRotating(rate uint16) *bool {
	switch {
	case rate == 1:
		f := false
		return &f
	case rate >= 0x401 && rate < 0xffff:
		r := true
		return &r
	}
	return nil
}

func sanStatusText(st *ata.SanitizeStatus) string {
	return fmt.Sprintf("completed=%v in progress=%v frozen=%v failed=%v", st.CompletedWithoutError, st.InProgress, st.Frozen, st.Failed)
}

// sanStatusRegs answers SANITIZE STATUS EXT with COUNT = count, or aborts it
// with reason in LBA 7:0 when abort is set.
type sanStatusRegs struct {
	count  uint16
	abort  bool
	reason uint8
}

func (s sanStatusRegs) Exec(_ context.Context, c *scsi.Command) (*scsi.Result, error) {
	regs := &scsi.ATAReturn{Extend: true, Count: s.count, LBA: 0xffff, Status: ata.StatusDRDY}
	key, asc := scsi.KeyRecoveredError, scsi.ASCATAPassThroughInfo
	if s.abort {
		regs = &scsi.ATAReturn{Extend: true, Error: ata.ErrorABRT, LBA: uint64(s.reason), Status: ata.StatusDRDY | ata.StatusERR}
		key, asc = scsi.KeyAbortedCommand, scsi.ASCNoAdditionalSense
	}
	return &scsi.Result{Status: scsi.StatusCheckCondition, Sense: scsi.SenseBuilder{Key: key, ASC: asc, ATA: regs}.Descriptor()}, nil
}

func sanStatusSim(cfg atasim.Config, start bool, advance int) func(*testing.T) string {
	return func(t *testing.T) string {
		d := atasim.MustNew(cfg)
		dev := ata.New(d)
		if start {
			if err := dev.Sanitize(ctx, ata.SanitizeBlockErase, ata.SanitizeOptions{}); err != nil {
				t.Fatal(err)
			}
			_ = d.Advance(advance)
		}
		regs, err := dev.Exec(ctx, ata.SanitizeStatusCmd(false))
		if e, ok := ata.AsError(err); ok && e.Aborted() {
			return fmt.Sprintf("0x%02x", e.Regs.LBA&0xff)
		}
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("0x%04x", regs.Count)
	}
}

var ataChecks = map[string]check{
	"ata.w59.sanitize": {func(t *testing.T, raw string) string {
		s := identifyWord(t, 59, uint16(num(t, raw))).Sanitize
		return fmt.Sprintf("sanitize=%v crypto=%v overwrite=%v block=%v antifreeze=%v", s.Supported, s.Crypto, s.Overwrite, s.BlockErase, s.AntifreezeLock)
	}, map[string]func(*testing.T) string{"atasim": simWord(59, atasim.Config{Sanitize: true, Antifreeze: true}, 0xf400)}},
	"ata.w82.security": {func(t *testing.T, raw string) string {
		return fmt.Sprintf("security supported=%v", identifyWord(t, 82, uint16(num(t, raw))).Security.Supported)
	}, map[string]func(*testing.T) string{"atasim": simWord(82, atasim.Config{}, 0x0002)}},
	"ata.w82.hpa": {func(t *testing.T, raw string) string {
		return fmt.Sprintf("hpa=%v", identifyWord(t, 82, uint16(num(t, raw))).HPASupported)
	}, map[string]func(*testing.T) string{"atasim": simWord(82, atasim.Config{}, 0x0400)}},
	"ata.w119.ama":     {amaText, map[string]func(*testing.T) string{"atasim": simWord(119, atasim.Config{AMA: true}, 0xc100)}},
	"ata.w119.invalid": {amaText, nil},
	"ata.w128.sec1":    {secText, map[string]func(*testing.T) string{"atasim": simWord(128, atasim.Config{EnhancedErase: true}, 0x003f)}},
	"ata.w128.sec2":    {secText, map[string]func(*testing.T) string{"atasim": simWord(128, atasim.Config{FrozenAtPowerOn: true}, 0x003f)}},
	"ata.w128.sec4":    {secText, map[string]func(*testing.T) string{"atasim": simWord(128, atasim.Config{UserPassword: []byte("pw")}, 0x003f)}},
	"ata.w128.sec5":    {secText, map[string]func(*testing.T) string{"atasim": simWord(128, atasim.Config{UserPassword: []byte("pw")}, 0x003f, unlock)}},
	"ata.w128.sec6": {secText, map[string]func(*testing.T) string{"atasim": simWord(128, atasim.Config{UserPassword: []byte("pw")}, 0x003f, unlock,
		func(d *atasim.Drive) { d.WarmReboot() })}},
	"ata.w128.sec6resume": {secText, map[string]func(*testing.T) string{"atasim": simWord(128, atasim.Config{UserPassword: []byte("pw")}, 0x003f, unlock,
		func(d *atasim.Drive) { d.WarmReboot(); d.SuspendResume() })}},
	"ata.w128.expired": {secText, map[string]func(*testing.T) string{"atasim": simWord(128, atasim.Config{UserPassword: []byte("pw")}, 0x003f, func(d *atasim.Drive) {
		wrong, _ := ata.NewPassword("guess")
		for range 5 {
			_ = ata.New(d).SecurityUnlock(ctx, wrong)
		}
	})}},
	"ata.w89.time":          {eraseText(89), map[string]func(*testing.T) string{"atasim": simWord(89, atasim.Config{EraseTime: 10}, 0xffff)}},
	"ata.w89.unknown":       {eraseText(89), map[string]func(*testing.T) string{"atasim": simWord(89, atasim.Config{}, 0xffff)}},
	"ata.w90.extended":      {eraseText(90), map[string]func(*testing.T) string{"atasim": simWord(90, atasim.Config{EnhancedEraseTime: 0x812c}, 0xffff)}},
	"ata.w217.unknown":      {rotWord, map[string]func(*testing.T) string{"atasim": simWord(217, atasim.Config{NoRotationRate: true}, 0xffff)}},
	"ata.w217.ssd":          {rotWord, map[string]func(*testing.T) string{"atasim": simWord(217, atasim.Config{}, 0xffff)}},
	"ata.w217.rpm":          {rotWord, map[string]func(*testing.T) string{"atasim": simWord(217, atasim.Config{RotationRate: 7200}, 0xffff)}},
	"ata.w217.reserved":     {rotWord, nil},
	"ata.sanstat.completed": {sanCount, map[string]func(*testing.T) string{"atasim": sanStatusSim(atasim.Config{Sanitize: true, ManualProgress: true}, true, 10)}},
	"ata.sanstat.inprogress": {sanCount, map[string]func(*testing.T) string{"atasim": func(t *testing.T) string {
		// COUNT 15:12 only: LBA carries the progress.
		s := sanStatusSim(atasim.Config{Sanitize: true, ManualProgress: true}, true, 0)(t)
		return fmt.Sprintf("0x%04x", num(t, s)&0xf000)
	}}},
	"ata.sanstat.frozen": {sanCount, map[string]func(*testing.T) string{"atasim": sanStatusSim(atasim.Config{Sanitize: true, SanitizeFrozenAtPowerOn: true}, false, 0)}},
	"ata.sanerr.failed":  {sanAbort, map[string]func(*testing.T) string{"atasim": sanStatusSim(atasim.Config{Sanitize: true, ManualProgress: true, FailAtStep: 1}, true, 1)}},
	"ata.sanerr.zero":    {sanAbort, map[string]func(*testing.T) string{"atasim": sanStatusSim(atasim.Config{Sanitize: true, ManualProgress: true, FailAtStep: 1, FailureReasonZero: true}, true, 1)}},
	"ata.sanerr.frozen": {func(t *testing.T, raw string) string {
		return "refused: " + ata.SanitizeReason(num(t, raw)).String()
	}, map[string]func(*testing.T) string{"atasim": func(t *testing.T) string {
		err := ata.New(atasim.MustNew(atasim.Config{Sanitize: true, SanitizeFrozenAtPowerOn: true})).Sanitize(ctx, ata.SanitizeBlockErase, ata.SanitizeOptions{})
		r, ok := ata.SanitizeErrorReason(err)
		if !ok {
			t.Fatalf("not aborted: %v", err)
		}
		return fmt.Sprintf("0x%02x", uint8(r))
	}}},
}

func unlock(d *atasim.Drive) {
	pw, _ := ata.NewPassword("pw")
	_ = ata.New(d).SecurityUnlock(ctx, pw)
}

// amaText decodes word 119 with word 86 bit 15 set (words 119-120 valid).
func amaText(t *testing.T, raw string) string {
	b := make([]byte, 512)
	binary.LittleEndian.PutUint16(b[2*86:], 0x8000)
	binary.LittleEndian.PutUint16(b[2*119:], uint16(num(t, raw)))
	id, err := ata.ParseIdentify(b)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("ama=%v", id.AMASupported)
}

func eraseText(w int) func(t *testing.T, raw string) string {
	return func(t *testing.T, raw string) string {
		s := identifyWord(t, w, uint16(num(t, raw))).Security
		if w == 90 {
			return fmt.Sprintf("%s; longer=%v", s.EnhancedEraseTime, s.EnhancedEraseLongerThan)
		}
		return fmt.Sprintf("%s; longer=%v", s.EraseTime, s.EraseTimeLongerThan)
	}
}

func rotWord(t *testing.T, raw string) string {
	return rotText(ataRotating(identifyWord(t, 217, uint16(num(t, raw))).RotationRate))
}

func sanCount(t *testing.T, raw string) string {
	st, err := ata.New(sanStatusRegs{count: uint16(num(t, raw))}).SanitizeStatus(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	return sanStatusText(st)
}

func sanAbort(t *testing.T, raw string) string {
	st, err := ata.New(sanStatusRegs{abort: true, reason: uint8(num(t, raw))}).SanitizeStatus(ctx, false)
	if err != nil {
		return "error: " + err.Error()
	}
	return fmt.Sprintf("failed=%v (reason %d)", st.Failed, st.Reason)
}

// --- SCSI ---

func rc16Text(t *testing.T, raw string) string {
	b := make([]byte, 32)
	b[7], b[11], b[12] = 0xff, 0x02, byte(num(t, raw))
	c, err := scsi.ParseReadCapacity16(b)
	if err != nil {
		t.Fatal(err)
	}
	fpi, pfu, err := scsi.ProtectionFields(c)
	if err != nil {
		return fmt.Sprintf("type %d; refused", c.ProtectionType())
	}
	return fmt.Sprintf("type %d; FMTPINFO=%d PFU=%d", c.ProtectionType(), fpi, pfu)
}

func rc16Sim(typ int) func(*testing.T) string {
	return func(t *testing.T) string {
		buf := make([]byte, 32)
		r, err := scsi.Run(ctx, scsisim.MustNew(scsisim.Config{ProtectionType: typ}), "READ CAPACITY(16)", &scsi.Command{CDB: scsi.ReadCapacity16CDB(32), Data: buf, Dir: scsi.DirIn})
		if err != nil || r.DataLen < 13 {
			t.Fatalf("%v", err)
		}
		return fmt.Sprintf("0x%02x", buf[12])
	}
}

func b1Text(t *testing.T, raw string) string {
	b := make([]byte, 64)
	b[1], b[3] = 0xb1, 0x3c
	binary.BigEndian.PutUint16(b[4:], uint16(num(t, raw)))
	p, err := scsi.ParseBlockDeviceCharacteristics(b)
	if err != nil {
		t.Fatal(err)
	}
	if !p.RotationKnown {
		return "rotating=unknown"
	}
	return fmt.Sprintf("rotating=%v", !p.NonRotating)
}

func b1Sim(cfg scsisim.Config) func(*testing.T) string {
	return func(t *testing.T) string {
		p, err := scsi.VPD(ctx, scsisim.MustNew(cfg), scsi.VPDBlockDeviceChar)
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("0x%04x", binary.BigEndian.Uint16(p[4:]))
	}
}

func senseText(t *testing.T, raw string) string {
	var k, asc, ascq uint8
	if _, err := fmt.Sscanf(raw, "%x/%x/%x", &k, &asc, &ascq); err != nil {
		t.Fatal(err)
	}
	p := uint16(0x4000)
	sb := scsi.SenseBuilder{Key: scsi.SenseKey(k), ASC: scsi.ASC(uint16(asc)<<8 | uint16(ascq))}
	if k == 2 {
		sb.Progress = &p
	}
	st, err := scsi.PollOperation(ctx, fixedSense(sb.Fixed()))
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("in progress=%v failed=%v", st.InProgress, st.Failed)
}

// fixedSense answers REQUEST SENSE with the given sense data.
type fixedSense []byte

func (f fixedSense) Exec(_ context.Context, c *scsi.Command) (*scsi.Result, error) {
	n := copy(c.Data, f)
	return &scsi.Result{DataLen: n, Resid: len(c.Data) - n}, nil
}

func senseSim(cfg scsisim.Config) func(*testing.T) string {
	return func(t *testing.T) string {
		d := scsisim.MustNew(cfg)
		if err := scsi.Sanitize(ctx, d, scsi.SanitizeRequest{Action: scsi.SanitizeBlockErase, Immed: true}, time.Minute); err != nil {
			t.Fatal(err)
		}
		if cfg.FailAtStep > 0 {
			_ = d.Advance(1)
		}
		s, err := scsi.RequestSense(ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("%02x/%02x/%02x", uint8(s.Key), uint16(s.ASC)>>8, uint8(s.ASC))
	}
}

func rsocText(t *testing.T, raw string) string { return scsi.Support(num(t, raw)).String() }

func rsocSim(cfg scsisim.Config) func(*testing.T) string {
	return func(t *testing.T) string {
		os, err := scsi.ReportOpcode(ctx, scsisim.MustNew(cfg), scsi.OpSanitize, uint16(scsi.SanitizeCryptoErase), true)
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("0x%x", uint8(os.Support))
	}
}

var scsiChecks = map[string]check{
	"scsi.rc16.type0":    {rc16Text, map[string]func(*testing.T) string{"scsisim": rc16Sim(0)}},
	"scsi.rc16.type1":    {rc16Text, map[string]func(*testing.T) string{"scsisim": rc16Sim(1)}},
	"scsi.rc16.type2":    {rc16Text, map[string]func(*testing.T) string{"scsisim": rc16Sim(2)}},
	"scsi.rc16.type3":    {rc16Text, map[string]func(*testing.T) string{"scsisim": rc16Sim(3)}},
	"scsi.rc16.reserved": {rc16Text, nil},
	"scsi.format.pfu": {func(t *testing.T, raw string) string {
		fpi, pfu, err := scsi.ProtectionFields(&scsi.Capacity{ProtEnable: true, PType: 2})
		if err != nil {
			t.Fatal(err)
		}
		cdb, param := scsi.FormatUnitCDB(scsi.FormatRequest{Immed: true, FMTPINFO: fpi, PFU: pfu})
		if want := fmt.Sprintf("0x%02x/0x%02x", cdb[1], param[0]); want != raw {
			t.Errorf("raw %s, lethe sends %s", raw, want)
		}
		return fmt.Sprintf("CDB %s header %s", hex.EncodeToString(cdb), hex.EncodeToString(param))
	}, map[string]func(*testing.T) string{"scsisim": func(t *testing.T) string {
		d := scsisim.MustNew(scsisim.Config{ProtectionType: 3})
		if err := scsi.FormatUnit(ctx, d, scsi.FormatRequest{FMTPINFO: 3, PFU: 1}, time.Minute); err != nil || d.ProtectionType() != 3 {
			t.Fatalf("format type 3: %v, type %d", err, d.ProtectionType())
		}
		return "0xd8/0x01"
	}}},
	"scsi.b1.unknown":       {b1Text, map[string]func(*testing.T) string{"scsisim": b1Sim(scsisim.Config{NoRotationRate: true})}},
	"scsi.b1.ssd":           {b1Text, map[string]func(*testing.T) string{"scsisim": b1Sim(scsisim.Config{})}},
	"scsi.b1.rpm":           {b1Text, map[string]func(*testing.T) string{"scsisim": b1Sim(scsisim.Config{RotationRate: 7200})}},
	"scsi.sense.inprogress": {senseText, map[string]func(*testing.T) string{"scsisim": senseSim(scsisim.Config{Sanitize: true, ManualProgress: true})}},
	"scsi.sense.failed":     {senseText, map[string]func(*testing.T) string{"scsisim": senseSim(scsisim.Config{Sanitize: true, ManualProgress: true, FailAtStep: 1})}},
	"scsi.rsoc.no":          {rsocText, map[string]func(*testing.T) string{"scsisim": rsocSim(scsisim.Config{Sanitize: true, Block: true})}},
	"scsi.rsoc.yes":         {rsocText, map[string]func(*testing.T) string{"scsisim": rsocSim(scsisim.Config{Sanitize: true, Crypto: true})}},
	"scsi.rsoc.vendor":      {rsocText, nil},
}

func TestConformanceTable(t *testing.T) {
	rows := loadTable(t)
	checks := map[string]check{}
	for _, m := range []map[string]check{nvmeChecks, ataChecks, scsiChecks} {
		for id, c := range m {
			checks[id] = c
		}
	}
	seen := map[string]bool{}
	for _, r := range rows {
		t.Run(r.id, func(t *testing.T) {
			if seen[r.id] {
				t.Fatalf("duplicate row %s", r.id)
			}
			seen[r.id] = true
			if r.spec == "" || r.tool == "" || r.says == "" {
				t.Fatal("a row needs the specification, the tool and what the field means")
			}
			c, ok := checks[r.id]
			if !ok {
				t.Fatal("no check for this row")
			}
			if got := c.lethe(t, r.raw); got != r.lethe {
				t.Errorf("lethe decodes %s as %q; the table says %q", r.raw, got, r.lethe)
			}
			for _, sim := range []string{"nvmesim", "atasim", "scsisim"} {
				produce := c.sims[sim]
				state := r.sims[sim]
				switch {
				case state == "—" && produce != nil:
					t.Errorf("%s: the table says not modelled, but a check exists", sim)
				case state != "—" && produce == nil:
					t.Errorf("%s: the table names a state (%s) but no check produces it", sim, state)
				case produce != nil:
					if got := produce(t); got != r.raw {
						t.Errorf("%s in state %q produces %s; the table says %s", sim, state, got, r.raw)
					}
				}
			}
		})
	}
	for id := range checks {
		if !seen[id] {
			t.Errorf("check %s has no row in TABLE.md", id)
		}
	}
}
