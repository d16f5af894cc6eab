package scsi

import (
	"bytes"
	"context"
	"strconv"
	"testing"

	"github.com/lethe-project/lethe/internal/devices/internal/golden"
)

// TestGoldenCDBs compares lethe's CDBs and parameter lists with what
// sg3_utils sends for the same operation (testdata/golden/tools.txt) or
// what the spec lays out (spec.txt).
func TestGoldenCDBs(t *testing.T) {
	g, err := golden.Load()
	if err != nil {
		t.Fatal(err)
	}
	must := func(cdb, param []byte, err error) ([]byte, []byte) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return cdb, param
	}
	san := func(r SanitizeRequest) ([]byte, []byte) { return must(SanitizeCDB(r)) }
	fmtu := func(r FormatRequest) ([]byte, []byte) { return FormatUnitCDB(r) }
	cases := []struct {
		name       string
		cdb, param []byte
		dir        string
	}{
		{"scsi-inquiry", InquiryCDB(false, 0, 36), nil, "in"},
		{"scsi-inquiry-vpd00", InquiryCDB(true, VPDSupportedPages, 252), nil, "in"},
		{"scsi-inquiry-vpd80", InquiryCDB(true, VPDUnitSerial, 252), nil, "in"},
		{"scsi-inquiry-vpd83", InquiryCDB(true, VPDDeviceID, 252), nil, "in"},
		{"scsi-inquiry-vpdb1", InquiryCDB(true, VPDBlockDeviceChar, 252), nil, "in"},
		{"scsi-read-capacity16", ReadCapacity16CDB(32), nil, "in"},
		{"scsi-opcodes-sanitize-overwrite", ReportOpcodeCDB(OpSanitize, uint16(SanitizeOverwrite), true, true, 8192), nil, "in"},
		{"scsi-opcodes-sanitize-overwrite-no-rctd", ReportOpcodeCDB(OpSanitize, uint16(SanitizeOverwrite), true, false, 8192), nil, "in"},
		{"scsi-opcodes-sanitize-block", ReportOpcodeCDB(OpSanitize, uint16(SanitizeBlockErase), true, true, 8192), nil, "in"},
		{"scsi-opcodes-sanitize-block-no-rctd", ReportOpcodeCDB(OpSanitize, uint16(SanitizeBlockErase), true, false, 8192), nil, "in"},
		{"scsi-opcodes-sanitize-crypto", ReportOpcodeCDB(OpSanitize, uint16(SanitizeCryptoErase), true, true, 8192), nil, "in"},
		{"scsi-opcodes-sanitize-crypto-no-rctd", ReportOpcodeCDB(OpSanitize, uint16(SanitizeCryptoErase), true, false, 8192), nil, "in"},
		{"scsi-opcodes-sanitize-exit", ReportOpcodeCDB(OpSanitize, uint16(SanitizeExitFailureMode), true, true, 8192), nil, "in"},
		{"scsi-opcodes-sanitize-exit-no-rctd", ReportOpcodeCDB(OpSanitize, uint16(SanitizeExitFailureMode), true, false, 8192), nil, "in"},
		{"scsi-opcodes-format-unit", ReportOpcodeCDB(OpFormatUnit, 0, false, true, 8192), nil, "in"},
		{"scsi-opcodes-format-unit-no-rctd", ReportOpcodeCDB(OpFormatUnit, 0, false, false, 8192), nil, "in"},
		{"scsi-request-sense", RequestSenseCDB(false, 252), nil, "in"},
		{"scsi-test-unit-ready", TestUnitReadyCDB(), nil, "none"},
	}
	add := func(name string, cdb, param []byte) {
		dir := "none"
		if param != nil {
			dir = "out"
		}
		cases = append(cases, struct {
			name       string
			cdb, param []byte
			dir        string
		}{name, cdb, param, dir})
	}
	c, p := san(SanitizeRequest{Action: SanitizeCryptoErase, Immed: true})
	add("scsi-sanitize-crypto-immed", c, p)
	c, p = san(SanitizeRequest{Action: SanitizeBlockErase, Immed: true, AUSE: true})
	add("scsi-sanitize-block-immed-ause", c, p)
	c, p = san(SanitizeRequest{Action: SanitizeCryptoErase})
	add("scsi-sanitize-crypto-wait", c, p)
	c, p = san(SanitizeRequest{Action: SanitizeOverwrite, Immed: true, Pattern: []byte{0xde, 0xad, 0xbe, 0xef}, Count: 3, Invert: true})
	add("scsi-sanitize-overwrite", c, p)
	c, p = san(SanitizeRequest{Action: SanitizeOverwrite, Immed: true, Pattern: []byte{0, 0, 0, 0}, Count: 1})
	add("scsi-sanitize-overwrite-zero-1", c, p)
	c, p = san(SanitizeRequest{Action: SanitizeExitFailureMode, Immed: true})
	add("scsi-sanitize-exit-failure", c, p)
	c, p = fmtu(FormatRequest{Immed: true})
	add("scsi-format-unit-immed", c, p)
	c, p = fmtu(FormatRequest{})
	add("scsi-format-unit-wait", c, p)
	// Keeping each protection type (ProtectionFields from READ
	// CAPACITY(16)), cross-checked with sg_format --fmtpinfo/--pfu.
	for typ, name := range map[uint8]string{1: "scsi-format-unit-type1", 2: "scsi-format-unit-type2", 3: "scsi-format-unit-type3"} {
		fpi, pfu, err := ProtectionFields(&Capacity{ProtEnable: true, PType: typ - 1})
		if err != nil {
			t.Fatal(err)
		}
		c, p = fmtu(FormatRequest{Immed: true, FMTPINFO: fpi, PFU: pfu})
		add(name, c, p)
	}

	for _, tc := range cases {
		e, ok := g[tc.name]
		if !ok {
			t.Errorf("%s: no golden entry", tc.name)
			continue
		}
		if e.Kind != "sgio" {
			t.Errorf("%s: golden entry is %s", tc.name, e.Kind)
			continue
		}
		if got, want := tc.cdb, e.Hex("cdb"); !bytes.Equal(got, want) {
			t.Errorf("%s: CDB\n got %x\nwant %x (%s)", tc.name, got, want, e.Origin)
		}
		if e.Dir() != tc.dir {
			t.Errorf("%s: direction %s, golden %s", tc.name, tc.dir, e.Dir())
		}
		if tc.dir == "out" {
			// The capture trims trailing zero bytes of the data-out buffer.
			if got, want := bytes.TrimRight(tc.param, "\x00"), e.Hex("data"); !bytes.Equal(got, want) {
				t.Errorf("%s: parameter list\n got %x\nwant %x (%s)", tc.name, got, want, e.Origin)
			}
			if n, ok := e.Fields["len"]; ok && n != strconv.Itoa(len(tc.param)) {
				t.Errorf("%s: parameter list length %d, golden %s", tc.name, len(tc.param), n)
			}
		}
	}
}

// recorder answers MODE SENSE(10) with a Control page with D_SENSE=0 (as
// the capture shim does) and records the MODE SELECT it receives.
type recorder struct{ sel *Command }

func (r *recorder) Exec(_ context.Context, c *Command) (*Result, error) {
	if c.CDB[0] == OpModeSelect10 {
		r.sel = c
		return &Result{DataLen: len(c.Data)}, nil
	}
	n := copy(c.Data, ControlModePage(false))
	return &Result{DataLen: n}, nil
}

// The D_SENSE switch sends what `sg_modes -d -p 0x0a` and `sdparm --set
// D_SENSE=1 --page=co` send.
func TestGoldenDescriptorSense(t *testing.T) {
	g, err := golden.Load()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ModeSense10CDB(ModePageControl, 252), g["scsi-mode-sense-control"].Hex("cdb"); !bytes.Equal(got, want) {
		t.Errorf("MODE SENSE(10): %x, want %x", got, want)
	}
	r := &recorder{}
	if changed, err := EnsureDescriptorSense(context.Background(), r); err != nil || !changed || r.sel == nil {
		t.Fatalf("changed %v err %v", changed, err)
	}
	e := g["scsi-mode-select-dsense"]
	if !bytes.Equal(r.sel.CDB, e.Hex("cdb")) || !bytes.Equal(bytes.TrimRight(r.sel.Data, "\x00"), e.Hex("data")) || e.Fields["len"] != strconv.Itoa(len(r.sel.Data)) {
		t.Errorf("MODE SELECT(10): cdb %x data %x, want %x %x (%s)", r.sel.CDB, r.sel.Data, e.Hex("cdb"), e.Hex("data"), e.Origin)
	}
}
