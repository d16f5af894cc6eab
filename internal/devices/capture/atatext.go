package capture

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/lethe-project/lethe/internal/devices/ata"
	"github.com/lethe-project/lethe/internal/devices/probe"
)

type ataData struct {
	id  *ata.Identify
	raw []byte
	// nativeMax is the native max LBA from `hdparm -N`; nil when not
	// captured.
	nativeMax *uint64
}

func (c *Capture) loadATA() error {
	d := &ataData{}
	c.ata = d
	var err error
	switch {
	case exists(c.Dir, FileHdparmIstdout):
		var b []byte
		if b, err = read(c.Dir, FileHdparmIstdout); err == nil {
			d.raw, err = ParseIstdout(string(b))
		}
	case exists(c.Dir, FileHdparmI):
		var b []byte
		if b, err = read(c.Dir, FileHdparmI); err == nil {
			d.raw, err = ParseHdparmI(string(b))
		}
	case exists(c.Dir, FileSmartctl):
		var b []byte
		if b, err = read(c.Dir, FileSmartctl); err == nil {
			d.raw, err = c.ataFromSmartctl(string(b))
		}
	default:
		return fmt.Errorf("no %s, %s or %s", FileHdparmI, FileHdparmIstdout, FileSmartctl)
	}
	if err != nil {
		return err
	}
	if d.id, err = ata.ParseIdentify(d.raw); err != nil {
		return err
	}
	if exists(c.Dir, FileHdparmN) {
		b, err := read(c.Dir, FileHdparmN)
		if err != nil {
			return err
		}
		if n, ok := ParseHdparmN(string(b)); ok {
			d.nativeMax = &n
		}
	}
	return nil
}

// ParseIstdout reads `hdparm --Istdout`: the 256 IDENTIFY words as hex, 8
// per line.
func ParseIstdout(s string) ([]byte, error) {
	var words []uint16
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		for _, f := range strings.Fields(sc.Text()) {
			if len(f) != 4 {
				continue
			}
			v, err := strconv.ParseUint(f, 16, 16)
			if err != nil {
				continue
			}
			words = append(words, uint16(v))
		}
	}
	if len(words) < 256 {
		return nil, fmt.Errorf("hdparm --Istdout: %d words, need 256", len(words))
	}
	b := make([]byte, 512)
	for i := 0; i < 256; i++ {
		binary.LittleEndian.PutUint16(b[2*i:], words[i])
	}
	return b, nil
}

var maxSectors = regexp.MustCompile(`max sectors\s*=\s*(\d+)/(\d+)`)

// ParseHdparmN reads `hdparm -N`: "max sectors = CURRENT/NATIVE"; it
// returns the native max LBA.
func ParseHdparmN(s string) (uint64, bool) {
	m := maxSectors.FindStringSubmatch(s)
	if m == nil {
		return 0, false
	}
	n, err := strconv.ParseUint(m[2], 10, 64)
	if err != nil || n == 0 {
		return 0, false
	}
	return n - 1, true
}

// identifyWords builds an IDENTIFY page; set fills words, finish adds the
// strings and the word 255 checksum (ACS-4 §7.12.7.93).
type identifyWords [256]uint16

func (w *identifyWords) str(first, n int, s string) {
	b := []byte(s + strings.Repeat(" ", 2*n))[:2*n]
	for i := 0; i < n; i++ {
		w[first+i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
	}
}

func (w *identifyWords) sectors(n uint64) {
	s28 := min(n, 0x0fffffff)
	w[60], w[61] = uint16(s28), uint16(s28>>16)
	w[100], w[101], w[102], w[103] = uint16(n), uint16(n>>16), uint16(n>>32), uint16(n>>48)
	w[83] |= 0x4000 | 0x0400
	w[86] |= 0x0400
}

func (w *identifyWords) sectorSizes(logical, physical uint64) {
	w[106] = 0x4000
	if logical > 512 {
		w[106] |= 0x1000
		words := logical / 2
		w[117], w[118] = uint16(words), uint16(words>>16)
	}
	if physical > logical && logical > 0 {
		exp := 0
		for r := physical / logical; r > 1; r >>= 1 {
			exp++
		}
		w[106] |= 0x2000 | uint16(exp&0xf)
	}
}

func (w *identifyWords) bytes() []byte {
	w[0] &^= 0x8000
	w[84] |= 0x4000
	w[87] |= 0x4000
	b := make([]byte, 512)
	for i, v := range w {
		binary.LittleEndian.PutUint16(b[2*i:], v)
	}
	b[510] = 0xa5
	var sum uint8
	for _, x := range b[:511] {
		sum += x
	}
	b[511] = -sum
	return b
}

// eraseWord encodes an erase time in minutes as words 89/90 do (ACS-4
// §7.12.7.45): 2-minute units in bits 7:0, or bits 14:0 with bit 15 set.
func eraseWord(minutes uint64, more bool) uint16 {
	v := minutes / 2
	switch {
	case more && v <= 0xff:
		return 0xff
	case v <= 0xfe:
		return uint16(v)
	case v < 0x7fff:
		return 0x8000 | uint16(v)
	}
	return 0xffff
}

var (
	hdpField    = regexp.MustCompile(`^\s*([A-Za-z0-9/ .()-]+?):\s*(.*?)\s*$`)
	hdpFeature  = regexp.MustCompile(`^\s*(\*?)\s*(.+?)\s*$`)
	hdpErase    = regexp.MustCompile(`(more than )?(\d+)min for (ENHANCED )?SECURITY ERASE UNIT`)
	hdpLBA48    = regexp.MustCompile(`LBA48\s+user addressable sectors:\s*(\d+)`)
	hdpLBA28    = regexp.MustCompile(`LBA\s+user addressable sectors:\s*(\d+)`)
	hdpLogical  = regexp.MustCompile(`Logical\s+Sector size:\s*(\d+)`)
	hdpPhysical = regexp.MustCompile(`Physical Sector size:\s*(\d+)`)
	hdpRotation = regexp.MustCompile(`Nominal Media Rotation Rate:\s*(.+)`)
	hdpWWN      = regexp.MustCompile(`Logical Unit WWN Device Identifier:\s*([0-9a-fA-F]{16})`)
	hdpMaster   = regexp.MustCompile(`Master password revision code\s*=\s*(\d+)`)
	hdpUnknown  = regexp.MustCompile(`^unknown (\d+)\[(\d+)\]$`)
)

// hdparmFeatures maps the feature lines of `hdparm -I` (hdparm 9.65
// identify.c) to IDENTIFY words and bits: supported word, enabled word.
var hdparmFeatures = map[string][3]int{
	"Security Mode feature set":                {82, 85, 1},
	"Host Protected Area feature set":          {82, 85, 10},
	"Device Configuration Overlay feature set": {83, 86, 11},
	"SANITIZE feature set":                     {59, -1, 12},
	"CRYPTO_SCRAMBLE_EXT command":              {59, -1, 13},
	"OVERWRITE_EXT command":                    {59, -1, 14},
	"BLOCK_ERASE_EXT command":                  {59, -1, 15},
	"SANITIZE_ANTIFREEZE_LOCK_EXT command":     {59, -1, 10},
	"64-bit World wide name":                   {84, 87, 8},
	"48-bit Address feature set":               {83, 86, 10},
	"Device encrypts all user data":            {69, -1, 4},
}

// ParseHdparmI turns `hdparm -I` output (hdparm 9.x) back into the IDENTIFY
// DEVICE page for the words lethe reads: strings, capacity, sector sizes,
// rotation rate, WWN, the feature sets (HPA, DCO, 48-bit, Accessible Max
// Address, shown by hdparm 9.65 as "unknown 119[8]"), SANITIZE (word 59),
// TRIM (words 69/169) and the Security section (words 82/85/89/90/92/128).
func ParseHdparmI(s string) ([]byte, error) {
	var w identifyWords
	w[0] = 0x0040
	w[119] = 0x4000
	w[120] = 0x4000
	model := ""
	section := ""
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		trim := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "Commands/features:"):
			section = "features"
			continue
		case strings.HasPrefix(line, "Security:"):
			section = "security"
			continue
		case len(line) > 0 && line[0] != '\t' && line[0] != ' ':
			section = ""
		}
		if m := hdpField.FindStringSubmatch(line); m != nil && section == "" {
			switch m[1] {
			case "Model Number":
				model = m[2]
				w.str(27, 20, m[2])
			case "Serial Number":
				w.str(10, 10, m[2])
			case "Firmware Revision":
				w.str(23, 4, m[2])
			}
		}
		switch section {
		case "features":
			m := hdpFeature.FindStringSubmatch(trim)
			if m == nil || trim == "Enabled\tSupported:" {
				continue
			}
			name, enabled := m[2], m[1] == "*"
			if u := hdpUnknown.FindStringSubmatch(name); u != nil {
				word, _ := strconv.Atoi(u[1])
				bit, _ := strconv.Atoi(u[2])
				if word < 256 && bit < 16 {
					w[word] |= 1 << bit
				}
				if word == 119 || word == 120 {
					// hdparm prints words 119/120 only when word 86
					// bit 15 says they are valid and both words read
					// 01b in bits 15:14; a '*' is word 120's enabled bit.
					w[86] |= 0x8000
					w[120] |= 0x4000
					if enabled && word == 119 {
						w[120] |= 1 << bit
					}
				}
				continue
			}
			if strings.HasPrefix(name, "Data Set Management TRIM supported") {
				w[169] |= 1
				continue
			}
			switch name {
			case "Deterministic read ZEROs after TRIM":
				w[69] |= 0x4000 | 0x0020
				continue
			case "Deterministic read data after TRIM":
				w[69] |= 0x4000
				continue
			}
			if f, ok := hdparmFeatures[name]; ok {
				w[f[0]] |= 1 << f[2]
				if enabled && f[1] >= 0 {
					w[f[1]] |= 1 << f[2]
				}
			}
		case "security":
			fields := strings.Fields(trim)
			not := len(fields) > 0 && fields[0] == "not"
			rest := strings.TrimSpace(strings.TrimPrefix(trim, "not"))
			switch {
			case hdpMaster.MatchString(trim):
				v, _ := strconv.Atoi(hdpMaster.FindStringSubmatch(trim)[1])
				w[92] = uint16(v)
			case rest == "supported" && !not:
				w[128] |= 0x0001
				w[82] |= 0x0002
			case rest == "enabled" && !not:
				w[128] |= 0x0002
			case rest == "locked" && !not:
				w[128] |= 0x0004
			case rest == "frozen" && !not:
				w[128] |= 0x0008
			case strings.HasPrefix(rest, "expired") && !not:
				w[128] |= 0x0010
			case rest == "supported: enhanced erase" && !not:
				w[128] |= 0x0020
			case strings.HasPrefix(rest, "Security level maximum"):
				w[128] |= 0x0100
			}
			for _, m := range hdpErase.FindAllStringSubmatch(trim, -1) {
				mins, _ := strconv.ParseUint(m[2], 10, 32)
				word := 89
				if m[3] != "" {
					word = 90
				}
				w[word] = eraseWord(mins, m[1] != "")
			}
		}
	}
	if model == "" {
		return nil, fmt.Errorf("hdparm -I: no Model Number line")
	}
	if m := hdpLBA28.FindStringSubmatch(s); m != nil {
		n, _ := strconv.ParseUint(m[1], 10, 64)
		w[60], w[61] = uint16(n), uint16(n>>16)
	}
	if m := hdpLBA48.FindStringSubmatch(s); m != nil {
		n, _ := strconv.ParseUint(m[1], 10, 64)
		w.sectors(n)
	}
	logical, physical := uint64(512), uint64(512)
	if m := hdpLogical.FindStringSubmatch(s); m != nil {
		logical, _ = strconv.ParseUint(m[1], 10, 32)
	}
	if m := hdpPhysical.FindStringSubmatch(s); m != nil {
		physical, _ = strconv.ParseUint(m[1], 10, 32)
	}
	w.sectorSizes(logical, physical)
	if m := hdpRotation.FindStringSubmatch(s); m != nil {
		r := strings.TrimSpace(m[1])
		if r == "Solid State Device" {
			w[217] = 1
		} else if v, err := strconv.ParseUint(r, 10, 16); err == nil {
			w[217] = uint16(v)
		}
	}
	if m := hdpWWN.FindStringSubmatch(s); m != nil {
		v, _ := strconv.ParseUint(m[1], 16, 64)
		w[108], w[109], w[110], w[111] = uint16(v>>48), uint16(v>>32), uint16(v>>16), uint16(v)
	}
	w[83] |= 0x4000
	return w.bytes(), nil
}

// smartctlFields reads smartctl's "Name:   value" lines of the information
// section, keys lower-cased.
func smartctlFields(s string) map[string]string {
	kv := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "=== START OF READ SMART DATA") {
			break
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok || strings.HasPrefix(line, " ") {
			continue
		}
		k = strings.ToLower(strings.TrimSpace(k))
		// "Optional Admin Commands (0x005f)": the value in the name
		// goes with the value.
		if i := strings.Index(k, " (0x"); i > 0 {
			v = k[i+1:] + " " + v
			k = k[:i]
		}
		if _, dup := kv[k]; !dup {
			kv[k] = strings.TrimSpace(v)
		}
	}
	return kv
}

var (
	smartBytes = regexp.MustCompile(`^([\d,. ]+) bytes`)
	smartSec   = regexp.MustCompile(`(\d+) bytes logical(?:, (\d+) bytes physical|/physical)`)
	smartRPM   = regexp.MustCompile(`^(\d+) rpm`)
	smartSEC   = regexp.MustCompile(`\[(SEC\d)\]`)
)

func digits(s string) uint64 {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	v, _ := strconv.ParseUint(b.String(), 10, 64)
	return v
}

// ataFromSmartctl builds IDENTIFY from `smartctl -x` of an ATA drive. It
// prints the strings, capacity, sector sizes, rotation rate, WWN, TRIM and
// the security state, but not word 59 (SANITIZE), the enhanced-erase bit
// and erase times, or the HPA/AMA/DCO feature sets: those are named
// unknown.
func (c *Capture) ataFromSmartctl(s string) ([]byte, error) {
	kv := smartctlFields(s)
	if kv["device model"] == "" {
		return nil, fmt.Errorf("%s: no Device Model line (not an ATA smartctl output)", FileSmartctl)
	}
	var w identifyWords
	w[0] = 0x0040
	w[119] = 0x4000
	w.str(27, 20, kv["device model"])
	w.str(10, 10, kv["serial number"])
	w.str(23, 4, kv["firmware version"])
	logical, physical := uint64(512), uint64(512)
	secs := kv["sector sizes"]
	if secs == "" {
		secs = kv["sector size"]
	}
	if m := smartSec.FindStringSubmatch(secs); m != nil {
		logical, _ = strconv.ParseUint(m[1], 10, 32)
		physical = logical
		if m[2] != "" {
			physical, _ = strconv.ParseUint(m[2], 10, 32)
		}
	}
	if m := smartBytes.FindStringSubmatch(kv["user capacity"]); m != nil && logical > 0 {
		w.sectors(digits(m[1]) / logical)
	}
	w.sectorSizes(logical, physical)
	switch r := kv["rotation rate"]; {
	case r == "Solid State Device":
		w[217] = 1
	case smartRPM.MatchString(r):
		w[217] = uint16(digits(smartRPM.FindStringSubmatch(r)[1]))
	}
	if id := strings.ReplaceAll(kv["lu wwn device id"], " ", ""); len(id) == 16 {
		if v, err := hex.DecodeString(id); err == nil {
			x := binary.BigEndian.Uint64(v)
			w[108], w[109], w[110], w[111] = uint16(x>>48), uint16(x>>32), uint16(x>>16), uint16(x)
			w[84] |= 0x0100
		}
	}
	if t := kv["trim command"]; strings.HasPrefix(t, "Available") {
		w[169] |= 1
		if strings.Contains(t, "deterministic") {
			w[69] |= 0x4000
		}
		if strings.Contains(t, "zeroed") {
			w[69] |= 0x0020
		}
	}
	// ataprint.cpp: "ATA Security is: Disabled, NOT FROZEN [SEC1]".
	if kv["ata security is"] == "" {
		c.unknown[probe.UnknownSecurity] = "this smartctl output has no ATA Security line"
	}
	if m := smartSEC.FindStringSubmatch(kv["ata security is"]); m != nil {
		w[82] |= 0x0002
		w[128] = map[string]uint16{"SEC1": 0x01, "SEC2": 0x09, "SEC4": 0x07, "SEC5": 0x03, "SEC6": 0x0b}[m[1]]
		if w[128]&0x2 != 0 {
			w[85] |= 0x0002
		}
	}
	why := "smartctl -x does not print it"
	c.unknown[probe.UnknownWord59] = why
	c.unknown[probe.UnknownWord128] = why + " (the enhanced erase bit and the erase times of words 89/90)"
	c.unknown[probe.UnknownHidden] = why + " (the HPA, Accessible Max Address and DCO feature sets)"
	return w.bytes(), nil
}
