package scsisim

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/lethe-project/lethe/internal/devices/ata"
	"github.com/lethe-project/lethe/internal/devices/scsi"
)

var ctx = context.Background()

func fill(t *testing.T, d *Disk) []byte {
	t.Helper()
	b := bytes.Repeat([]byte("old SCSI data.."), int(d.Medium().Size())/15+1)[:d.Medium().Size()]
	if _, err := d.WriteAt(b, 0); err != nil {
		t.Fatal(err)
	}
	return b
}

func raw(d *Disk) []byte {
	b := make([]byte, d.Medium().Size())
	_, _ = d.Medium().RawReadAt(b, 0)
	return b
}

func TestIdentity(t *testing.T) {
	d := MustNew(Config{Vendor: "SEAGATE", Product: "ST4000NM", Revision: "E004", Serial: "ZC1234", NAA: 0x5000c500deadbeef, RotationRate: 7200, Blocks: 1000, BlockSize: 4096})
	inq, err := scsi.Inquiry(ctx, d)
	if err != nil || inq.Vendor != "SEAGATE" || inq.Product != "ST4000NM" || inq.Revision != "E004" || inq.DeviceType != 0 {
		t.Fatalf("inquiry %+v %v", inq, err)
	}
	p, err := scsi.VPD(ctx, d, scsi.VPDSupportedPages)
	if err != nil {
		t.Fatal(err)
	}
	if pages, _ := scsi.ParseSupportedPages(p); !bytes.Equal(pages, []byte{0, 0x80, 0x83, 0xb1}) {
		t.Fatalf("pages %x", pages)
	}
	p, _ = scsi.VPD(ctx, d, scsi.VPDUnitSerial)
	if s, err := scsi.ParseUnitSerial(p); s != "ZC1234" || err != nil {
		t.Fatalf("serial %q %v", s, err)
	}
	p, _ = scsi.VPD(ctx, d, scsi.VPDDeviceID)
	ds, err := scsi.ParseDeviceID(p)
	if id, ok := scsi.PreferredID(ds); err != nil || !ok || id.String() != "naa.5000c500deadbeef" {
		t.Fatalf("device id %v %v", ds, err)
	}
	p, _ = scsi.VPD(ctx, d, scsi.VPDBlockDeviceChar)
	if b, err := scsi.ParseBlockDeviceCharacteristics(p); err != nil || b.RotationRate != 7200 || b.NonRotating {
		t.Fatalf("b1 %+v %v", b, err)
	}
	c, err := scsi.ReadCapacity16(ctx, d)
	if err != nil || c.Blocks != 1000 || c.BlockSize != 4096 || c.Bytes() != 4096000 {
		t.Fatalf("capacity %+v %v", c, err)
	}
	if _, err := scsi.VPD(ctx, d, 0x99); !scsi.IsInvalidField(err) {
		t.Fatalf("unknown VPD page: %v", err)
	}
}

func TestReportSanitizeSupport(t *testing.T) {
	d := MustNew(Config{Sanitize: true, Block: true, Crypto: true})
	s, err := scsi.ReportSanitizeSupport(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	if s.Overwrite.Supported() || !s.BlockErase.Supported() || !s.CryptoErase.Supported() || !s.ExitFailureMode.Supported() || !s.FormatUnit.Supported() {
		t.Fatalf("%+v", s)
	}
	if s.Timeouts != nil {
		t.Fatalf("timeouts from a disk that reports none: %+v", s.Timeouts)
	}
	old := MustNew(Config{NoReportOpcodes: true})
	if _, err := scsi.ReportSanitizeSupport(ctx, old); !scsi.IsInvalidOpcode(err) {
		t.Fatalf("device without REPORT SUPPORTED OPERATION CODES: %v", err)
	}
	if err := scsi.Sanitize(ctx, old, scsi.SanitizeRequest{Action: scsi.SanitizeBlockErase, Immed: true}, 0); !scsi.IsInvalidOpcode(err) {
		t.Fatalf("SANITIZE on a disk without it: %v", err)
	}
	if err := scsi.Sanitize(ctx, d, scsi.SanitizeRequest{Action: scsi.SanitizeOverwrite, Immed: true, Pattern: []byte{1}, Count: 1}, 0); !scsi.IsInvalidField(err) {
		t.Fatalf("unsupported service action: %v", err)
	}
}

// A disk with a command timeouts descriptor reports it per service action;
// one that rejects RCTD (older than SPC-4) is asked again without it.
func TestReportSanitizeSupportTimeouts(t *testing.T) {
	d := MustNew(Config{Sanitize: true, Block: true, NominalTimeout: 40 * time.Second, RecommendedTimeout: 5 * time.Minute})
	s, err := scsi.ReportSanitizeSupport(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	want := scsi.CommandTimeouts{Nominal: 40 * time.Second, Recommended: 5 * time.Minute}
	if s.Timeouts["block-erase"] != want || s.Timeouts[scsi.TimeoutKeyFormatUnit] != want || s.Recommended("block-erase") != 5*time.Minute {
		t.Fatalf("%+v", s.Timeouts)
	}
	if _, ok := s.Timeouts["crypto-erase"]; ok {
		t.Fatalf("timeouts for an unsupported action: %+v", s.Timeouts)
	}
	b, err := json.Marshal(s)
	var back scsi.SanitizeSupport
	if err != nil || !strings.Contains(string(b), `"block-erase":{"nominalSeconds":40,"recommendedSeconds":300}`) || json.Unmarshal(b, &back) != nil || back.Timeouts["block-erase"] != want {
		t.Fatalf("JSON %s %v", b, err)
	}
	for _, c := range d.CDBs() {
		if c[2]&0x80 == 0 {
			t.Fatalf("CDB without RCTD: % x", c)
		}
	}

	old := MustNew(Config{Sanitize: true, Block: true, RecommendedTimeout: 5 * time.Minute, RejectRCTD: true})
	s, err = scsi.ReportSanitizeSupport(ctx, old)
	if err != nil {
		t.Fatal(err)
	}
	if !s.BlockErase.Supported() || s.Overwrite.Supported() || s.Timeouts != nil || s.Recommended("block-erase") != 0 {
		t.Fatalf("%+v", s)
	}
	cdbs := old.CDBs()
	if len(cdbs) != 10 || cdbs[0][2] != 0x82 || cdbs[1][2] != 0x02 {
		t.Fatalf("want each question asked with RCTD, then without: %d CDBs, % x", len(cdbs), cdbs)
	}
	var nilSupport *scsi.SanitizeSupport
	if nilSupport.Recommended("block-erase") != 0 {
		t.Fatal("nil support")
	}
}

func poll(t *testing.T, d *Disk) []*scsi.OperationStatus {
	t.Helper()
	var out []*scsi.OperationStatus
	for i := 0; i < 100; i++ {
		st, err := scsi.PollOperation(ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, st)
		if !st.InProgress {
			return out
		}
	}
	t.Fatal("operation never ended")
	return nil
}

func TestSanitizeImmedProgress(t *testing.T) {
	for _, desc := range []bool{false, true} {
		d := MustNew(Config{Sanitize: true, Steps: 4, DescriptorSense: desc})
		before := fill(t, d)
		if err := scsi.Sanitize(ctx, d, scsi.SanitizeRequest{Action: scsi.SanitizeCryptoErase, Immed: true}, 0); err != nil {
			t.Fatal(err)
		}
		if err := scsi.TestUnitReady(ctx, d); !scsi.IsNotReadyInProgress(err) {
			t.Fatalf("TUR during sanitize: %v", err)
		}
		if _, err := scsi.ReadCapacity16(ctx, d); !scsi.IsNotReadyInProgress(err) {
			t.Fatalf("READ CAPACITY during sanitize: %v", err)
		}
		if _, err := d.ReadAt(make([]byte, 512), 0); err != ErrNotReady {
			t.Fatalf("host read during sanitize: %v", err)
		}
		sts := poll(t, d)
		if !sts[0].Reported || sts[0].Progress <= 0 || sts[0].Progress >= 1 {
			t.Errorf("first poll %+v (TUR advanced one step)", sts[0])
		}
		if last := sts[len(sts)-1]; last.Failed || last.InProgress {
			t.Errorf("final %+v", last)
		}
		if r := raw(d); bytes.Equal(r, before) {
			t.Error("crypto erase left the data")
		}
		if err := scsi.TestUnitReady(ctx, d); err != nil {
			t.Errorf("TUR after sanitize: %v", err)
		}
	}
}

func TestSanitizeOverwriteWait(t *testing.T) {
	d := MustNew(Config{Sanitize: true})
	fill(t, d)
	r := scsi.SanitizeRequest{Action: scsi.SanitizeOverwrite, Pattern: []byte{0xde, 0xad, 0xbe, 0xef}, Count: 3, Invert: true}
	if err := scsi.Sanitize(ctx, d, r, 0); err != nil {
		t.Fatal(err)
	}
	// Passes 1 and 3 write the pattern, pass 2 its inverse.
	if want := bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef}, int(d.Medium().Size())/4); !bytes.Equal(raw(d), want) {
		t.Fatal("medium does not hold the pattern")
	}
	// A pattern longer than a block is refused.
	r.Pattern = make([]byte, 513)
	if err := scsi.Sanitize(ctx, d, r, 0); !scsi.IsInvalidField(err) {
		t.Fatalf("long pattern: %v", err)
	}
}

func TestSanitizeFailure(t *testing.T) {
	d := MustNew(Config{Sanitize: true, FailAtStep: 2})
	fill(t, d)
	if err := scsi.Sanitize(ctx, d, scsi.SanitizeRequest{Action: scsi.SanitizeBlockErase, Immed: true}, 0); err != nil {
		t.Fatal(err)
	}
	sts := poll(t, d)
	if !sts[len(sts)-1].Failed {
		t.Fatalf("final %+v", sts[len(sts)-1])
	}
	err := scsi.TestUnitReady(ctx, d)
	if !scsi.IsSanitizeFailed(err) || !scsi.IsMediumError(err) {
		t.Fatalf("TUR after failure: %v", err)
	}
	if err := scsi.FormatUnit(ctx, d, scsi.FormatRequest{}, 0); !scsi.IsSanitizeFailed(err) {
		t.Fatalf("FORMAT UNIT in failure state: %v", err)
	}
	// AUSE was 0: EXIT FAILURE MODE is refused.
	if err := scsi.Sanitize(ctx, d, scsi.SanitizeRequest{Action: scsi.SanitizeExitFailureMode}, 0); !scsi.IsInvalidField(err) {
		t.Fatalf("exit failure mode without AUSE: %v", err)
	}
	d.PowerCycle()
	if err := scsi.TestUnitReady(ctx, d); !scsi.IsSanitizeFailed(err) {
		t.Fatalf("failure state lost on power cycle: %v", err)
	}
	if err := scsi.Sanitize(ctx, d, scsi.SanitizeRequest{Action: scsi.SanitizeBlockErase}, 0); err != nil {
		t.Fatalf("new sanitize: %v", err)
	}
	if err := scsi.TestUnitReady(ctx, d); err != nil {
		t.Fatalf("after successful sanitize: %v", err)
	}

	// AUSE=1: EXIT FAILURE MODE works.
	d = MustNew(Config{Sanitize: true, FailAtStep: 1})
	err = scsi.Sanitize(ctx, d, scsi.SanitizeRequest{Action: scsi.SanitizeCryptoErase, AUSE: true}, 0)
	if !scsi.IsSanitizeFailed(err) {
		t.Fatalf("failing sanitize without IMMED: %v", err)
	}
	if err := scsi.Sanitize(ctx, d, scsi.SanitizeRequest{Action: scsi.SanitizeExitFailureMode}, 0); err != nil {
		t.Fatal(err)
	}
	if err := scsi.TestUnitReady(ctx, d); err != nil {
		t.Fatal(err)
	}
}

func TestFormatUnit(t *testing.T) {
	d := MustNew(Config{Steps: 3})
	fill(t, d)
	if err := scsi.FormatUnit(ctx, d, scsi.FormatRequest{Immed: true}, 0); err != nil {
		t.Fatal(err)
	}
	sts := poll(t, d)
	if !sts[0].InProgress || sts[0].Sense.ASC != scsi.ASCNotReadyFormatInProgress {
		t.Fatalf("first poll %+v", sts[0])
	}
	if len(bytes.Trim(raw(d), "\x00")) != 0 {
		t.Fatal("format left data")
	}
	q := MustNew(Config{FormatLying: true})
	before := fill(t, q)
	if err := scsi.FormatUnit(ctx, q, scsi.FormatRequest{}, 0); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(raw(q), before) {
		t.Fatal("lying format changed data")
	}
}

func TestUnitAttentionAndNoATA(t *testing.T) {
	d := MustNew(Config{UnitAttentionOnPowerCycle: true})
	d.PowerCycle()
	err := scsi.TestUnitReady(ctx, d)
	if se, ok := scsi.AsSenseError(err); !ok || !se.IsUnitAttention() {
		t.Fatalf("first command after power cycle: %v", err)
	}
	if err := scsi.TestUnitReady(ctx, d); err != nil {
		t.Fatalf("second command: %v", err)
	}
	_, err = ata.New(d).Identify(ctx)
	if !ata.IsPassThroughUnsupported(err) {
		t.Fatalf("ATA pass-through on a SCSI disk: %v", err)
	}
}

func TestDescriptorSenseSwitch(t *testing.T) {
	d := MustNew(Config{})
	changed, err := scsi.EnsureDescriptorSense(ctx, d)
	if err != nil || !changed {
		t.Fatalf("first: %v %v", changed, err)
	}
	changed, err = scsi.EnsureDescriptorSense(ctx, d)
	if err != nil || changed {
		t.Fatalf("second: %v %v", changed, err)
	}
	err = scsi.Sanitize(ctx, d, scsi.SanitizeRequest{Action: scsi.SanitizeBlockErase}, 0)
	se, ok := scsi.AsSenseError(err)
	if !ok || !se.IsInvalidOpcode() || se.Sense.ResponseCode != 0x72 {
		t.Fatalf("sense after D_SENSE: %v", err)
	}
}

func TestSanitizeResumesAfterPowerLoss(t *testing.T) {
	d := MustNew(Config{Sanitize: true, Steps: 4, ManualProgress: true})
	if err := scsi.Sanitize(ctx, d, scsi.SanitizeRequest{Action: scsi.SanitizeBlockErase, Immed: true}, 0); err != nil {
		t.Fatal(err)
	}
	if err := d.Advance(1); err != nil {
		t.Fatal(err)
	}
	d.PowerCycle()
	st, err := scsi.PollOperation(ctx, d)
	if err != nil || !st.InProgress || st.Progress != 0.25 {
		t.Fatalf("after power loss: %+v %v", st, err)
	}
	if err := d.Advance(3); err != nil {
		t.Fatal(err)
	}
	if st, _ := scsi.PollOperation(ctx, d); st.InProgress || st.Failed {
		t.Fatalf("after resume: %+v", st)
	}
}

// A drive formatted with protection information reports it in READ
// CAPACITY(16), and a FORMAT UNIT without FMTPINFO formats it away.
func TestProtectionInformation(t *testing.T) {
	ctx := context.Background()
	for typ := 1; typ <= 3; typ++ {
		d := MustNew(Config{ProtectionType: typ})
		c, err := scsi.ReadCapacity16(ctx, d)
		if err != nil || c.ProtectionType() != typ {
			t.Fatalf("type %d: READ CAPACITY(16) says %d (%v)", typ, c.ProtectionType(), err)
		}
		fpi, pfu, err := scsi.ProtectionFields(c)
		if err != nil {
			t.Fatal(err)
		}
		if err := scsi.FormatUnit(ctx, d, scsi.FormatRequest{FMTPINFO: fpi, PFU: pfu}, time.Minute); err != nil {
			t.Fatal(err)
		}
		if d.ProtectionType() != typ {
			t.Fatalf("type %d lost by a format that keeps it: %d", typ, d.ProtectionType())
		}
		if err := scsi.FormatUnit(ctx, d, scsi.FormatRequest{}, time.Minute); err != nil {
			t.Fatal(err)
		}
		if d.ProtectionType() != 0 {
			t.Fatalf("FMTPINFO 0 kept type %d", d.ProtectionType())
		}
	}
	d := MustNew(Config{ProtectionType: 1})
	if err := scsi.FormatUnit(ctx, d, scsi.FormatRequest{FMTPINFO: 3, PFU: 1}, time.Minute); !scsi.IsInvalidField(err) {
		t.Fatalf("an unsupported type: %v", err)
	}
}

func TestRotationUnknown(t *testing.T) {
	ctx := context.Background()
	p, err := scsi.VPD(ctx, MustNew(Config{NoRotationRate: true}), scsi.VPDBlockDeviceChar)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := scsi.ParseBlockDeviceCharacteristics(p); b.RotationKnown {
		t.Fatalf("%+v", b)
	}
	if _, err := scsi.VPD(ctx, MustNew(Config{NoBlockDeviceCharacteristics: true}), scsi.VPDBlockDeviceChar); !scsi.IsInvalidField(err) {
		t.Fatalf("VPD B1 without the page: %v", err)
	}
}
