package capture

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/big"
	"regexp"
	"strconv"
	"strings"

	"github.com/lethe-project/lethe/internal/devices/nvme"
	"github.com/lethe-project/lethe/internal/devices/probe"
)

type nvmeData struct {
	ctrl    *nvme.Controller
	ctrlRaw []byte
	ns      map[uint32]*nvme.Namespace
	nsRaw   map[uint32][]byte
	nsid    uint32
	log     []byte   // Sanitize Status log; nil when absent
	active  []uint32 // nil when the list is unknown
}

func (c *Capture) loadNVMe() error {
	d := &nvmeData{ns: map[uint32]*nvme.Namespace{}, nsRaw: map[uint32][]byte{}}
	c.nvme = d
	var err error
	switch {
	case exists(c.Dir, FileNVMeIDCtrlBin):
		d.ctrlRaw, err = read(c.Dir, FileNVMeIDCtrlBin)
	case exists(c.Dir, FileNVMeIDCtrl):
		var b []byte
		if b, err = read(c.Dir, FileNVMeIDCtrl); err == nil {
			d.ctrlRaw, err = ParseIDCtrlText(string(b))
		}
	case exists(c.Dir, FileSmartctl):
		return c.loadNVMeSmartctl()
	default:
		return fmt.Errorf("no %s, %s or %s", FileNVMeIDCtrl, FileNVMeIDCtrlBin, FileSmartctl)
	}
	if err != nil {
		return err
	}
	if d.ctrl, err = nvme.ParseController(d.ctrlRaw); err != nil {
		return err
	}
	var nsPage []byte
	nsid := uint32(1)
	switch {
	case exists(c.Dir, FileNVMeIDNSBin):
		nsPage, err = read(c.Dir, FileNVMeIDNSBin)
	case exists(c.Dir, FileNVMeIDNS):
		var b []byte
		if b, err = read(c.Dir, FileNVMeIDNS); err == nil {
			nsPage, nsid, err = ParseIDNSText(string(b))
		}
	}
	if err != nil {
		return err
	}
	if nsPage != nil {
		ns, err := nvme.ParseNamespace(nsPage)
		if err != nil {
			return err
		}
		d.ns[nsid], d.nsRaw[nsid], d.nsid = ns, nsPage, nsid
	} else {
		c.note("no Identify Namespace captured: the plan covers the controller, not a namespace")
	}
	switch {
	case exists(c.Dir, FileNVMeSanLogBin):
		d.log, err = read(c.Dir, FileNVMeSanLogBin)
	case exists(c.Dir, FileNVMeSanLog):
		var b []byte
		if b, err = read(c.Dir, FileNVMeSanLog); err == nil {
			d.log, err = ParseSanitizeLogText(string(b))
		}
	case d.ctrl.SANICAP&0x7 != 0:
		// The log is mandatory with any sanitize action (NVMe Base 2.0
		// §5.16.1.25); its state is not known, so an idle one stands in.
		d.log = idleSanitizeLog()
		c.note("no Sanitize Status log captured: replayed as an idle log (never sanitized, no time estimates)")
	}
	if err != nil {
		return err
	}
	if exists(c.Dir, FileNVMeList) {
		b, err := read(c.Dir, FileNVMeList)
		if err != nil {
			return err
		}
		d.active = ParseNVMeList(string(b))
	} else if d.ctrl.NN == 1 {
		d.active = []uint32{1} // NN 1: NSID 1 is the only one there can be
	}
	return nil
}

func idleSanitizeLog() []byte {
	b := make([]byte, nvme.SanitizeLogBytes)
	binary.LittleEndian.PutUint16(b[0:], 0xffff)
	for i := 0; i < 6; i++ {
		binary.LittleEndian.PutUint32(b[8+4*i:], 0xffffffff)
	}
	return b
}

// keyValues reads "key : value" lines, skipping nvme-cli's -H detail lines
// (indented, or starting with '[').
func keyValues(s string) map[string]string {
	kv := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if line == "" || line[0] == ' ' || line[0] == '\t' || line[0] == '[' {
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		k = strings.ToLower(strings.TrimSpace(k))
		if _, dup := kv[k]; !dup {
			kv[k] = strings.TrimSpace(v)
		}
	}
	return kv
}

// number parses nvme-cli's numbers: 0x-prefixed hex or decimal, with
// thousands separators.
func number(s string) (*big.Int, bool) {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, " \t("); i > 0 {
		s = s[:i]
	}
	s = strings.NewReplacer(",", "", "_", "").Replace(s)
	v, ok := new(big.Int).SetString(s, 0)
	if !ok || v.Sign() < 0 {
		return nil, false
	}
	return v, true
}

func putLE(b []byte, v *big.Int) {
	raw := v.Bytes() // big endian
	for i := 0; i < len(raw) && i < len(b); i++ {
		b[i] = raw[len(raw)-1-i]
	}
}

func putASCII(b []byte, s string) {
	for i := range b {
		b[i] = ' '
	}
	copy(b, s)
}

// ParseIDCtrlText turns `nvme id-ctrl` output (plain or -H) back into the
// Identify Controller page (NVMe Base 2.0 Figure 275) for the fields lethe
// reads; the others stay zero.
func ParseIDCtrlText(s string) ([]byte, error) {
	kv := keyValues(s)
	if kv["mn"] == "" && kv["sn"] == "" {
		return nil, fmt.Errorf("nvme id-ctrl text: no sn/mn lines")
	}
	b := make([]byte, nvme.IdentifyDataBytes)
	fields := []struct {
		key       string
		off, size int
	}{{"vid", 0, 2}, {"ssvid", 2, 2}, {"cmic", 76, 1}, {"cntlid", 78, 2}, {"oacs", 256, 2}, {"frmw", 260, 1}, {"lpa", 261, 1},
		{"tnvmcap", 280, 16}, {"unvmcap", 296, 16}, {"sanicap", 328, 4}, {"nn", 516, 4}, {"oncs", 520, 2}, {"fna", 524, 1}, {"vwc", 525, 1}}
	for _, f := range fields {
		v, ok := number(kv[f.key])
		if !ok {
			if f.key == "sanicap" || f.key == "fna" || f.key == "oacs" || f.key == "nn" {
				return nil, fmt.Errorf("nvme id-ctrl text: no %s line", f.key)
			}
			continue
		}
		putLE(b[f.off:f.off+f.size], v)
	}
	// ver and ieee are printed in hex, with or without 0x.
	if v, err := strconv.ParseUint(strings.TrimPrefix(kv["ver"], "0x"), 16, 32); err == nil {
		binary.LittleEndian.PutUint32(b[80:], uint32(v))
	}
	if v, err := strconv.ParseUint(strings.TrimPrefix(kv["ieee"], "0x"), 16, 32); err == nil {
		b[73], b[74], b[75] = byte(v), byte(v>>8), byte(v>>16)
	}
	putASCII(b[4:24], kv["sn"])
	putASCII(b[24:64], kv["mn"])
	putASCII(b[64:72], kv["fr"])
	copy(b[768:1024], kv["subnqn"])
	return b, nil
}

var (
	nsHeader = regexp.MustCompile(`(?i)identify namespace (\d+)`)
	lbafLine = regexp.MustCompile(`(?m)^lbaf\s+(\d+)\s*:\s*ms:\s*(\d+)\s+lbads:\s*(\d+)\s+rp:\s*(0x[0-9a-f]+|\d+)`)
)

// ParseIDNSText turns `nvme id-ns` output back into the Identify Namespace
// page (NVM Command Set 1.0 Figure 97) and returns the NSID its header
// names (1 when it names none).
func ParseIDNSText(s string) ([]byte, uint32, error) {
	kv := keyValues(s)
	b := make([]byte, nvme.IdentifyDataBytes)
	nsid := uint32(1)
	if m := nsHeader.FindStringSubmatch(s); m != nil {
		if v, err := strconv.ParseUint(m[1], 10, 32); err == nil && v > 0 {
			nsid = uint32(v)
		}
	}
	if _, ok := number(kv["nsze"]); !ok {
		return nil, 0, fmt.Errorf("nvme id-ns text: no nsze line")
	}
	for _, f := range []struct {
		key       string
		off, size int
	}{{"nsze", 0, 8}, {"ncap", 8, 8}, {"nuse", 16, 8}, {"nsfeat", 24, 1}, {"nlbaf", 25, 1}, {"flbas", 26, 1}, {"mc", 27, 1}, {"dpc", 28, 1},
		{"dps", 29, 1}, {"nmic", 30, 1}, {"rescap", 31, 1}, {"fpi", 32, 1}, {"dlfeat", 33, 1}, {"nvmcap", 48, 16}} {
		if v, ok := number(kv[f.key]); ok {
			putLE(b[f.off:f.off+f.size], v)
		}
	}
	for _, f := range []struct {
		key       string
		off, size int
	}{{"nguid", 104, 16}, {"eui64", 120, 8}} {
		if h, err := hex.DecodeString(kv[f.key]); err == nil && len(h) == f.size {
			copy(b[f.off:], h)
		}
	}
	formats := lbafLine.FindAllStringSubmatch(s, -1)
	if len(formats) == 0 || len(formats) > 64 {
		return nil, 0, fmt.Errorf("nvme id-ns text: %d lbaf lines", len(formats))
	}
	for _, m := range formats {
		i, _ := strconv.Atoi(m[1])
		ms, _ := strconv.ParseUint(m[2], 10, 16)
		lbads, _ := strconv.ParseUint(m[3], 10, 8)
		rp, _ := strconv.ParseUint(m[4], 0, 8)
		if i >= 64 {
			continue
		}
		binary.LittleEndian.PutUint32(b[128+4*i:], uint32(ms)|uint32(lbads)<<16|uint32(rp&3)<<24)
	}
	if v, ok := number(kv["nlbaf"]); !ok || v.Uint64() == 0 && len(formats) > 1 {
		b[25] = byte(len(formats) - 1)
	}
	return b, nsid, nil
}

// ParseSanitizeLogText turns `nvme sanitize-log` output back into the
// Sanitize Status log page (NVMe Base 2.1 Figure 291).
func ParseSanitizeLogText(s string) ([]byte, error) {
	b := make([]byte, nvme.SanitizeLogBytes)
	found := 0
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || strings.HasPrefix(strings.TrimSpace(k), "[") {
			continue
		}
		n, ok := number(v)
		if !ok || n.BitLen() > 32 {
			continue
		}
		x := uint32(n.Uint64())
		k = strings.ToLower(k)
		nd := strings.Contains(k, "no-deallocate") || strings.Contains(k, "no deallocate")
		off := -1
		switch {
		case strings.Contains(k, "sprog"):
			binary.LittleEndian.PutUint16(b[0:], uint16(x))
			found++
		case strings.Contains(k, "sstat"):
			binary.LittleEndian.PutUint16(b[2:], uint16(x))
			found++
		case strings.Contains(k, "scdw10"):
			binary.LittleEndian.PutUint32(b[4:], x)
		case strings.Contains(k, "time for overwrite") && nd:
			off = 20
		case strings.Contains(k, "time for overwrite"):
			off = 8
		case strings.Contains(k, "time for block erase") && nd:
			off = 24
		case strings.Contains(k, "time for block erase"):
			off = 12
		case strings.Contains(k, "time for crypto erase") && nd:
			off = 28
		case strings.Contains(k, "time for crypto erase"):
			off = 16
		}
		if off >= 0 {
			binary.LittleEndian.PutUint32(b[off:], x)
		}
	}
	if found < 2 {
		return nil, fmt.Errorf("nvme sanitize-log text: no SPROG/SSTAT lines")
	}
	return b, nil
}

var nvmeNode = regexp.MustCompile(`/dev/nvme(\d+)n(\d+)\b`)

// ParseNVMeList returns the NSIDs `nvme list` shows for the first
// controller listed.
func ParseNVMeList(s string) []uint32 {
	var ids []uint32
	ctrl := ""
	for _, m := range nvmeNode.FindAllStringSubmatch(s, -1) {
		if ctrl == "" {
			ctrl = m[1]
		}
		if m[1] != ctrl {
			continue
		}
		if v, err := strconv.ParseUint(m[2], 10, 32); err == nil && v > 0 {
			ids = append(ids, uint32(v))
		}
	}
	return ids
}

// loadNVMeSmartctl builds the pages from `smartctl -x` of an NVMe drive.
// smartctl prints OACS, ONCS, NN, the capacity and the LBA formats of the
// namespace it opened, but not SANICAP, FNA or CMIC: those are named
// unknown.
func (c *Capture) loadNVMeSmartctl() error {
	d := c.nvme
	txt, err := read(c.Dir, FileSmartctl)
	if err != nil {
		return err
	}
	kv := smartctlFields(string(txt))
	if kv["model number"] == "" {
		return fmt.Errorf("%s: no Model Number line (not an NVMe smartctl output)", FileSmartctl)
	}
	b := make([]byte, nvme.IdentifyDataBytes)
	putASCII(b[4:24], kv["serial number"])
	putASCII(b[24:64], kv["model number"])
	putASCII(b[64:72], kv["firmware version"])
	for _, f := range []struct {
		key       string
		off, size int
	}{{"optional admin commands", 256, 2}, {"optional nvm commands", 520, 2}} {
		if m := parenHex.FindStringSubmatch(kv[f.key]); m != nil {
			v, _ := strconv.ParseUint(m[1], 16, 16)
			binary.LittleEndian.PutUint16(b[f.off:], uint16(v))
		} else if f.off == 256 {
			c.unknown[probe.UnknownOACS] = "this smartctl output has no Optional Admin Commands line"
		}
	}
	nn := uint64(1)
	if v, ok := number(kv["number of namespaces"]); ok {
		nn = v.Uint64()
	}
	binary.LittleEndian.PutUint32(b[516:], uint32(nn))
	if v, ok := number(kv["total nvm capacity"]); ok {
		putLE(b[280:296], v)
	}
	d.ctrlRaw = b
	if d.ctrl, err = nvme.ParseController(b); err != nil {
		return err
	}
	why := "smartctl -x does not print it"
	c.unknown[probe.UnknownSANICAP] = why
	c.unknown[probe.UnknownFNA] = why
	c.unknown[probe.UnknownCMIC] = why
	// The namespace smartctl opened.
	size, okSize := number(kv["namespace 1 size/capacity"])
	bs, okBS := number(kv["namespace 1 formatted lba size"])
	if !okSize || !okBS || bs.Sign() == 0 {
		c.note("smartctl printed no namespace 1 size: the plan covers the controller only")
		return nil
	}
	ns := make([]byte, nvme.IdentifyDataBytes)
	blocks := new(big.Int).Div(size, bs)
	putLE(ns[0:8], blocks)
	putLE(ns[8:16], blocks)
	formats := smartctlLBAFormats(string(txt))
	if len(formats) == 0 {
		formats = []smartctlLBAF{{data: uint32(bs.Uint64()), inUse: true}}
	}
	for i, f := range formats {
		lbads := uint32(0)
		for x := f.data; x > 1; x >>= 1 {
			lbads++
		}
		binary.LittleEndian.PutUint32(ns[128+4*i:], f.meta|lbads<<16|(f.rp&3)<<24)
		if f.inUse {
			ns[26] = byte(i&0xf) | byte(i>>4&3)<<5
		}
	}
	ns[25] = byte(len(formats) - 1)
	n, err := nvme.ParseNamespace(ns)
	if err != nil {
		return err
	}
	d.ns[1], d.nsRaw[1], d.nsid = n, ns, 1
	d.active = []uint32{1}
	if nn > 1 {
		c.note("smartctl -x shows namespace 1 of NN=%d; the active namespace list was not captured, so only namespace 1 is replayed", nn)
	}
	return nil
}

var parenHex = regexp.MustCompile(`\(0x([0-9a-fA-F]+)\)`)

type smartctlLBAF struct {
	data, meta, rp uint32
	inUse          bool
}

var lbafRow = regexp.MustCompile(`(?m)^\s*(\d+)\s+([+-])\s+(\d+)\s+(\d+)\s+(\d+)\s*$`)

func smartctlLBAFormats(s string) []smartctlLBAF {
	i := strings.Index(s, "Supported LBA Sizes")
	if i < 0 {
		return nil
	}
	var out []smartctlLBAF
	for _, m := range lbafRow.FindAllStringSubmatch(s[i:], -1) {
		id, _ := strconv.Atoi(m[1])
		if id != len(out) || id >= 64 {
			break
		}
		data, _ := strconv.ParseUint(m[3], 10, 32)
		meta, _ := strconv.ParseUint(m[4], 10, 16)
		rp, _ := strconv.ParseUint(m[5], 10, 8)
		out = append(out, smartctlLBAF{data: uint32(data), meta: uint32(meta), rp: uint32(rp), inUse: m[2] == "+"})
	}
	return out
}
