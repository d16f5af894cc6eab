// Package capture replays what a real drive answered, as published tools
// printed it (nvme-cli, hdparm, smartctl, sg3_utils), through lethe's own
// probe with no device: the text is turned back into the raw pages the
// command layer parses (Identify Controller/Namespace, the Sanitize Status
// log, IDENTIFY DEVICE, READ CAPACITY(16), INQUIRY and VPD pages), and a
// replay transport answers the probe's commands from them. Anything the
// capture lacks is answered with ErrNotCaptured, or named in
// probe.Info.Unknown when a tool's output leaves a field the probe reads
// unprinted, so that lethe never mistakes "not captured" for "not
// supported".
//
// A capture is a directory with a provenance file (PROVENANCE) and one or
// more tool outputs under fixed names; docs/captures.md lists them.
package capture

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/lethe-project/lethe/internal/devices"
	"github.com/lethe-project/lethe/internal/devices/probe"
)

// ErrNotCaptured answers a command whose data the capture does not hold.
var ErrNotCaptured = errors.New("not in the capture")

// Provenance is where a capture came from.
type Provenance struct {
	URL, Model, Firmware, Interface, Media, Class, Source, Note string
}

// Files lethe reads in a capture directory. Text outputs as the tools
// print them; .bin files are raw pages (nvme-cli -b / --raw-binary).
const (
	FileProvenance     = "PROVENANCE"
	FileNVMeIDCtrl     = "nvme-id-ctrl.txt"
	FileNVMeIDCtrlBin  = "nvme-id-ctrl.bin"
	FileNVMeIDNS       = "nvme-id-ns.txt"
	FileNVMeIDNSBin    = "nvme-id-ns.bin"
	FileNVMeSanLog     = "nvme-sanitize-log.txt"
	FileNVMeSanLogBin  = "nvme-sanitize-log.bin"
	FileNVMeList       = "nvme-list.txt"
	FileHdparmI        = "hdparm-I.txt"
	FileHdparmIstdout  = "hdparm-Istdout.txt"
	FileHdparmN        = "hdparm-N.txt"
	FileSmartctl       = "smartctl-x.txt"
	FileSgInq          = "sg_inq.txt"
	FileSgReadcap      = "sg_readcap.txt"
	FileSgVPDBDC       = "sg_vpd-bdc.txt"
	FileSgOpcodes      = "sg_opcodes.txt"
	maxCaptureFileSize = 4 << 20
)

// Capture is one drive's captured data, ready to replay.
type Capture struct {
	ID         string
	Dir        string
	Provenance Provenance
	// Kind is the command set the probe will use.
	Kind probe.Kind
	nvme *nvmeData
	ata  *ataData
	scsi *scsiData
	// unknown and notes go into probe.Info.
	unknown map[string]string
	notes   []string
}

// Load reads one capture directory.
func Load(dir string) (*Capture, error) {
	c := &Capture{ID: filepath.Base(dir), Dir: dir, unknown: map[string]string{}}
	prov, err := read(dir, FileProvenance)
	if err != nil {
		return nil, fmt.Errorf("capture %s: %w (every capture says where it came from)", dir, err)
	}
	c.Provenance = parseProvenance(string(prov))
	if c.Provenance.URL == "" {
		return nil, fmt.Errorf("capture %s: %s has no url", dir, FileProvenance)
	}
	switch {
	case exists(dir, FileNVMeIDCtrl) || exists(dir, FileNVMeIDCtrlBin) || c.Provenance.Interface == "nvme":
		c.Kind = probe.KindNVMe
		err = c.loadNVMe()
	case exists(dir, FileHdparmI) || exists(dir, FileHdparmIstdout) || c.Provenance.Interface == "ata":
		c.Kind = probe.KindATA
		err = c.loadATA()
	default:
		c.Kind = probe.KindSCSI
		err = c.loadSCSI()
	}
	if err != nil {
		return nil, fmt.Errorf("capture %s: %w", dir, err)
	}
	return c, nil
}

// LoadAll loads dir as one capture, or every capture in its
// subdirectories (sorted by name) when dir itself has no PROVENANCE.
func LoadAll(dir string) ([]*Capture, error) {
	if exists(dir, FileProvenance) {
		c, err := Load(dir)
		if err != nil {
			return nil, err
		}
		return []*Capture{c}, nil
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range ents {
		if e.IsDir() && exists(filepath.Join(dir, e.Name()), FileProvenance) {
			names = append(names, e.Name())
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%s: no capture (a directory with a %s file) found", dir, FileProvenance)
	}
	sort.Strings(names)
	var out []*Capture
	for _, n := range names {
		c, err := Load(filepath.Join(dir, n))
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// Probe replays the capture through lethe's probe.
func (c *Capture) Probe(ctx context.Context) (*probe.Info, error) {
	var in *probe.Info
	var err error
	switch c.Kind {
	case probe.KindNVMe:
		in, err = probe.NVMe(ctx, &nvmeReplay{d: c.nvme}, c.nvme.nsid)
	case probe.KindATA:
		in, err = probe.SCSI(ctx, &scsiReplay{ata: c.ata, scsi: c.ataAsSCSI()}, true)
	default:
		in, err = probe.SCSI(ctx, &scsiReplay{scsi: c.scsi}, false)
	}
	if err != nil {
		return nil, err
	}
	if len(c.unknown) > 0 {
		in.Unknown = c.unknown
	}
	in.Notes = append(append([]string(nil), c.notes...), in.Notes...)
	return in, nil
}

// Device describes the captured drive the way devices.Describe would on
// the machine it came from (the OS view lethe compares capacities with):
// the whole capacity, the transport, and the rotational flag Linux would
// set (the sd driver reports rotating unless the drive says otherwise).
func (c *Capture) Device() *devices.Device {
	d := &devices.Device{Path: "capture:" + c.ID, Name: c.ID, Kind: devices.KindDisk, Model: c.Provenance.Model, Firmware: c.Provenance.Firmware}
	switch c.Kind {
	case probe.KindNVMe:
		d.Transport, d.Media = devices.TransportNVMe, devices.MediaSSD
		if ns := c.nvme.ns[c.nvme.nsid]; ns != nil {
			d.LogicalSectorSize = int(ns.BlockSize())
			d.SizeBytes = int64(ns.SizeBytes())
		} else {
			// No namespace captured: the controller's capacity stands in
			// for the OS view (the plan covers the controller).
			d.SizeBytes, d.LogicalSectorSize = int64(c.nvme.ctrl.TNVMCAP), 512
		}
		d.Serial = c.nvme.ctrl.Serial
	case probe.KindATA:
		d.Transport = devices.TransportSATA
		id := c.ata.id
		d.SizeBytes, d.LogicalSectorSize, d.PhysicalSectorSize = int64(id.Sectors)*int64(id.LogicalSectorSize), int(id.LogicalSectorSize), int(id.PhysicalSectorSize)
		d.Rotational = id.RotationRate != 1
		d.Serial = id.Serial
	default:
		d.Transport = devices.TransportSAS
		s := c.scsi
		if s.capacity != nil {
			d.SizeBytes, d.LogicalSectorSize = int64(s.capacity.Bytes()), int(s.capacity.BlockSize)
		}
		d.Rotational = s.rotation != 1
		d.Vendor, d.Serial = s.vendor, s.serial
	}
	if d.PhysicalSectorSize == 0 {
		d.PhysicalSectorSize = d.LogicalSectorSize
	}
	switch {
	case d.Transport == devices.TransportNVMe:
	case d.Rotational:
		d.Media = devices.MediaHDD
	default:
		d.Media = devices.MediaSSD
	}
	return d
}

func (c *Capture) note(format string, args ...any) {
	c.notes = append(c.notes, "capture: "+fmt.Sprintf(format, args...))
}

func read(dir, name string) ([]byte, error) {
	p := filepath.Join(dir, name)
	st, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	if st.Size() > maxCaptureFileSize {
		return nil, fmt.Errorf("%s: %d bytes, more than a tool's output", p, st.Size())
	}
	b, err := os.ReadFile(p)
	if err != nil || strings.HasSuffix(name, ".bin") {
		return b, err
	}
	// Outputs pasted into mail and web pages come back with no-break
	// spaces for tabs and runs of spaces, and CRLF line ends.
	b = []byte(strings.NewReplacer("\u00a0", " ", "\r\n", "\n").Replace(string(b)))
	return b, nil
}

func exists(dir, name string) bool {
	_, err := os.Stat(filepath.Join(dir, name))
	return err == nil
}

// parseProvenance reads "key: value" lines.
func parseProvenance(s string) Provenance {
	var p Provenance
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "url":
			p.URL = v
		case "model":
			p.Model = v
		case "firmware":
			p.Firmware = v
		case "interface":
			p.Interface = v
		case "media":
			p.Media = v
		case "class":
			p.Class = v
		case "source":
			p.Source = v
		case "note":
			p.Note = v
		}
	}
	return p
}
