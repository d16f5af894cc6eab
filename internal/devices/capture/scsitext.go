package capture

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/lethe-project/lethe/internal/devices/scsi"
)

type scsiData struct {
	vendor, product, revision, serial string
	naa                               uint64
	capacity                          *scsi.Capacity
	rc16                              []byte // READ CAPACITY(16) parameter data
	// rotation is VPD B1h MEDIUM ROTATION RATE; hasBDC says whether the
	// page is known at all.
	rotation uint16
	hasBDC   bool
	// opcodes maps "48/1", "48/2", "48/3", "48/1f", "04" to SUPPORT
	// values; nil when REPORT SUPPORTED OPERATION CODES was not captured.
	opcodes map[string]scsi.Support
}

func (c *Capture) loadSCSI() error {
	d := &scsiData{}
	c.scsi = d
	found := false
	if exists(c.Dir, FileSmartctl) {
		b, err := read(c.Dir, FileSmartctl)
		if err != nil {
			return err
		}
		if err := d.fromSmartctl(string(b)); err != nil {
			return err
		}
		found = true
	}
	for _, f := range []struct {
		name  string
		parse func(*scsiData, string) error
	}{{FileSgInq, (*scsiData).fromSgInq}, {FileSgReadcap, (*scsiData).fromSgReadcap}, {FileSgVPDBDC, (*scsiData).fromSgVPDBDC}, {FileSgOpcodes, (*scsiData).fromSgOpcodes}} {
		if !exists(c.Dir, f.name) {
			continue
		}
		b, err := read(c.Dir, f.name)
		if err != nil {
			return err
		}
		if err := f.parse(d, string(b)); err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
		found = true
	}
	if !found || d.product == "" {
		return fmt.Errorf("no SCSI drive data (%s, or %s with %s)", FileSmartctl, FileSgInq, FileSgReadcap)
	}
	return nil
}

func (d *scsiData) setCapacity(blocks uint64, blockSize uint32, ptype int, piExp uint8) error {
	if blocks == 0 || blockSize == 0 {
		return fmt.Errorf("no capacity")
	}
	b := make([]byte, 32)
	binary.BigEndian.PutUint64(b[0:], blocks-1)
	binary.BigEndian.PutUint32(b[8:], blockSize)
	if ptype > 0 {
		b[12] = byte(ptype-1)<<1 | 0x01
		b[13] = piExp << 4
	}
	c, err := scsi.ParseReadCapacity16(b)
	if err != nil {
		return err
	}
	d.capacity, d.rc16 = c, b
	return nil
}

var (
	smartProt  = regexp.MustCompile(`Formatted with type (\d) protection`)
	smartPIInt = regexp.MustCompile(`(\d+) protection information intervals per logical block`)
)

// fromSmartctl reads `smartctl -x` of a SCSI (SAS) drive (smartmontools
// scsiprint.cpp): INQUIRY strings, READ CAPACITY(16) (capacity, block
// size, "Formatted with type N protection"), VPD B1h rotation rate, VPD
// 80h/83h. smartctl does not print REPORT SUPPORTED OPERATION CODES.
func (d *scsiData) fromSmartctl(s string) error {
	kv := smartctlFields(s)
	if kv["product"] == "" {
		return fmt.Errorf("%s: no Product line (not a SCSI smartctl output)", FileSmartctl)
	}
	d.vendor, d.product, d.revision, d.serial = kv["vendor"], kv["product"], kv["revision"], kv["serial number"]
	if v, err := strconv.ParseUint(strings.TrimPrefix(kv["logical unit id"], "0x"), 16, 64); err == nil {
		d.naa = v
	}
	bs := uint32(digits(kv["logical block size"]))
	size := uint64(0)
	if m := smartBytes.FindStringSubmatch(kv["user capacity"]); m != nil {
		size = digits(m[1])
	}
	ptype, piExp := 0, uint8(0)
	if m := smartProt.FindStringSubmatch(s); m != nil {
		ptype, _ = strconv.Atoi(m[1])
	}
	if m := smartPIInt.FindStringSubmatch(s); m != nil {
		n, _ := strconv.Atoi(m[1])
		for ; n > 1; n >>= 1 {
			piExp++
		}
	}
	if bs > 0 {
		if err := d.setCapacity(size/uint64(bs), bs, ptype, piExp); err != nil {
			return err
		}
	}
	switch r := kv["rotation rate"]; {
	case r == "Solid State Device":
		d.rotation, d.hasBDC = 1, true
	case smartRPM.MatchString(r):
		d.rotation, d.hasBDC = uint16(digits(smartRPM.FindStringSubmatch(r)[1])), true
	}
	return nil
}

func (d *scsiData) fromSgInq(s string) error {
	for _, l := range lines(s) {
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch strings.TrimSpace(k) {
		case "Vendor identification":
			d.vendor = v
		case "Product identification":
			d.product = v
		case "Product revision level":
			d.revision = v
		case "Unit serial number":
			d.serial = v
		}
	}
	return nil
}

var (
	sgLastLBA = regexp.MustCompile(`Last LBA=(\d+)`)
	sgLBLen   = regexp.MustCompile(`Logical block length=(\d+)`)
	sgProt    = regexp.MustCompile(`prot_en=(\d), p_type=(\d), p_i_exponent=(\d+)`)
)

// fromSgReadcap reads `sg_readcap --long` (sg3_utils src/sg_readcap.c).
func (d *scsiData) fromSgReadcap(s string) error {
	m := sgLastLBA.FindStringSubmatch(s)
	bl := sgLBLen.FindStringSubmatch(s)
	if m == nil || bl == nil {
		return fmt.Errorf("no Last LBA / Logical block length")
	}
	last, _ := strconv.ParseUint(m[1], 10, 64)
	bs, _ := strconv.ParseUint(bl[1], 10, 32)
	ptype, piExp := 0, uint8(0)
	if p := sgProt.FindStringSubmatch(s); p != nil && p[1] == "1" {
		t, _ := strconv.Atoi(p[2])
		e, _ := strconv.Atoi(p[3])
		ptype, piExp = t+1, uint8(e)
	}
	return d.setCapacity(last+1, uint32(bs), ptype, piExp)
}

// fromSgVPDBDC reads `sg_vpd -p bdc` (sg3_utils src/sg_vpd.c).
func (d *scsiData) fromSgVPDBDC(s string) error {
	d.hasBDC = true
	switch {
	case strings.Contains(s, "Non-rotating medium"):
		d.rotation = 1
	case strings.Contains(s, "Nominal rotation rate:"):
		i := strings.Index(s, "Nominal rotation rate:")
		d.rotation = uint16(digits(strings.Fields(s[i+len("Nominal rotation rate:"):] + " 0")[0]))
	}
	return nil
}

var sgOpcodeLine = regexp.MustCompile(`^\s*([0-9a-fA-F]{2})\s+(?:([0-9a-fA-F]{1,4})\s+)?(.+?)\s*$`)

// fromSgOpcodes reads `sg_opcodes` (the full list, sg3_utils
// src/sg_opcodes.c): a SANITIZE service action or FORMAT UNIT absent
// from a full list is not supported.
func (d *scsiData) fromSgOpcodes(s string) error {
	d.opcodes = map[string]scsi.Support{"48/1": scsi.SupportNo, "48/2": scsi.SupportNo, "48/3": scsi.SupportNo, "48/1f": scsi.SupportNo, "04": scsi.SupportNo}
	n := 0
	for _, l := range lines(s) {
		m := sgOpcodeLine.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		op, sa := strings.ToLower(m[1]), strings.ToLower(strings.TrimLeft(m[2], "0"))
		key := op
		if op == "48" {
			key = op + "/" + sa
		}
		if _, ok := d.opcodes[key]; ok {
			d.opcodes[key] = scsi.SupportStandard
			n++
		}
	}
	if n == 0 && !strings.Contains(s, "Opcode") {
		return fmt.Errorf("no opcode list")
	}
	return nil
}

func lines(s string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}
