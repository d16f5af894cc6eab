package scsi

import (
	"bytes"
	"strconv"
	"testing"

	"github.com/lethe-project/lethe/devices/internal/golden"
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
		{"scsi-opcodes-sanitize-overwrite", ReportOpcodeCDB(OpSanitize, uint16(SanitizeOverwrite), true, 8192), nil, "in"},
		{"scsi-opcodes-sanitize-block", ReportOpcodeCDB(OpSanitize, uint16(SanitizeBlockErase), true, 8192), nil, "in"},
		{"scsi-opcodes-sanitize-crypto", ReportOpcodeCDB(OpSanitize, uint16(SanitizeCryptoErase), true, 8192), nil, "in"},
		{"scsi-opcodes-sanitize-exit", ReportOpcodeCDB(OpSanitize, uint16(SanitizeExitFailureMode), true, 8192), nil, "in"},
		{"scsi-opcodes-format-unit", ReportOpcodeCDB(OpFormatUnit, 0, false, 8192), nil, "in"},
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
