//go:build linux

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/lethe-project/lethe/internal/devices"
	"github.com/lethe-project/lethe/internal/wipe"
)

// deviceView is one row of `lethe devices`: the device, what refuses it,
// and what techniques apply.
type deviceView struct {
	*devices.Device
	Refusals   []refusalView   `json:"refusals"`
	Techniques []techniqueView `json:"techniques"`
	Wipeable   bool            `json:"wipeable"`
	// Interface is the command set the probe found (nvme, ata, scsi; empty
	// without pass-through); ProbeError says why a probe failed.
	Interface  string               `json:"interface"`
	ProbeError string               `json:"probeError,omitempty"`
	Notes      []string             `json:"notes,omitempty"`
	Capacity   []wipe.CapacityCheck `json:"capacityCheck,omitempty"`
	Hidden     *wipe.HiddenState    `json:"hiddenAreas,omitempty"`
}

type refusalView struct {
	Reason    devices.Reason `json:"reason"`
	Detail    string         `json:"detail"`
	Forceable bool           `json:"forceable"`
}

type techniqueView struct {
	ID       wipe.TechniqueID `json:"id"`
	Name     string           `json:"name"`
	Category wipe.Category    `json:"category"`
	// Available is true when the drive can run the technique now; Reason
	// says why not, or notes a condition.
	Available bool   `json:"available"`
	Reason    string `json:"reason,omitempty"`
	// EstimateSeconds is the drive's own estimate (0: none reported).
	EstimateSeconds float64 `json:"estimateSeconds,omitempty"`
}

// viewOf describes d with its guards and the techniques the probe found.
// Probing sends only commands that read.
func viewOf(ctx context.Context, d *devices.Device, fo wipe.FirmwareOptions) deviceView {
	v := deviceView{Device: d, Refusals: []refusalView{}, Techniques: []techniqueView{}}
	for _, r := range devices.Check(d) {
		v.Refusals = append(v.Refusals, refusalView{r.Reason, r.Detail, r.Forceable})
	}
	v.Wipeable = len(v.Refusals) == 0
	caps := wipe.ProbeWith(ctx, d, fo)
	v.Interface, v.ProbeError, v.Notes, v.Capacity, v.Hidden = caps.Interface, caps.ProbeError, caps.Notes, caps.Capacity, caps.Hidden
	for _, c := range wipe.Applicable(d, caps) {
		t, _ := wipe.LookupTechnique(c.Technique)
		v.Techniques = append(v.Techniques, techniqueView{ID: c.Technique, Name: t.Name, Category: c.Category,
			Available: c.Available, Reason: c.Reason, EstimateSeconds: c.Estimate.Seconds()})
	}
	return v
}

func newDevicesCmd() *cobra.Command {
	var asJSON, all, wide bool
	var fo wipe.FirmwareOptions
	cmd := &cobra.Command{
		Use:   "devices",
		Short: "List block devices, what guards them, and the techniques that apply",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			list, err := devices.Discover()
			if err != nil {
				return err
			}
			var views []deviceView
			for _, d := range list {
				if d.Virtual && d.Transport != devices.TransportLoop && !all {
					continue
				}
				views = append(views, viewOf(cmd.Context(), d, fo))
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				if views == nil {
					views = []deviceView{}
				}
				return enc.Encode(views)
			}
			if wide {
				return writeDeviceTableWide(cmd.OutOrStdout(), views)
			}
			return writeDeviceTable(cmd.OutOrStdout(), views)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON for machines")
	cmd.Flags().BoolVar(&wide, "wide", false, "every column and every technique with the reason it is or is not available (wider than 80 columns)")
	cmd.Flags().BoolVar(&all, "all", false, "include virtual devices (zram, dm, md, sr, nbd)")
	cmd.Flags().StringVar(&fo.StateDir, "state-dir", wipe.DefaultStateDir, "firmware job state (a drive locked by an interrupted lethe run counts as recoverable)")
	cmd.Flags().BoolVar(&fo.AllowUnfreeze, "allow-unfreeze", false, "count frozen ATA techniques as available (lethe wipe --allow-unfreeze unfreezes them)")
	return cmd
}

// deviceTableWidth is the crash-cart console: 80 columns.
const deviceTableWidth = 80

// writeDeviceTable prints the inventory for people: one line per device
// that fits 80 columns (name, size, bus and medium, serial, model cut to
// what is left, and what a wipe would do or why it is refused), then every
// note once, wrapped rather than cut.
func writeDeviceTable(w io.Writer, views []deviceView) error {
	if len(views) == 0 {
		fmt.Fprintln(w, "no block devices found")
		return nil
	}
	header := []string{"DEVICE", "SIZE", "TYPE", "SERIAL", "MODEL", "WIPE"}
	rows := make([][]string, len(views))
	for i, v := range views {
		rows[i] = []string{cut(v.Name, 12), strings.ReplaceAll(devices.HumanBytes(v.SizeBytes), " ", ""), deviceType(v.Device),
			cut(dash(v.Serial), 24), dash(v.Model), wipeSummary(v)}
	}
	const gap = 2
	widths := make([]int, len(header))
	for c := range header {
		widths[c] = len(header[c])
		for _, r := range rows {
			widths[c] = max(widths[c], len([]rune(r[c])))
		}
	}
	// The model takes what the other columns leave (it is in --wide and
	// --json in full); the serial, which is on the drive's label, stays whole.
	const model = 4
	fixed := (len(header) - 1) * gap
	for c, wd := range widths {
		if c != model {
			fixed += wd
		}
	}
	widths[model] = max(0, min(widths[model], deviceTableWidth-fixed))
	for _, r := range append([][]string{header}, rows...) {
		var b strings.Builder
		for c, cell := range r {
			if c == model && widths[model] < 5 {
				continue // no room for a useful model: leave it to --wide
			}
			if c > 0 {
				b.WriteString(strings.Repeat(" ", gap))
			}
			cell = cut(cell, widths[c])
			b.WriteString(cell)
			if c < len(r)-1 {
				b.WriteString(strings.Repeat(" ", widths[c]-len([]rune(cell))))
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
	var notes noteList
	for _, v := range views {
		for _, r := range v.Refusals {
			notes.add(v.Name, r.Detail)
		}
		if v.BackingFile != "" {
			notes.add(v.Name, "loop device backed by "+v.BackingFile)
		}
		if v.ProbeError != "" {
			notes.add(v.Name, "probe failed, firmware techniques unknown: "+v.ProbeError)
		}
		for _, n := range v.Notes {
			notes.add(v.Name, n)
		}
	}
	if len(notes.order) > 0 {
		fmt.Fprintln(w)
	}
	notes.write(w, deviceTableWidth)
	fmt.Fprintln(w, "\nevery technique and why: lethe devices --wide; what wipe would do: lethe plan")
	return nil
}

// deviceType is the bus and, where it says something, the medium.
func deviceType(d *devices.Device) string {
	switch d.Media {
	case devices.MediaHDD, devices.MediaSSD:
		return string(d.Transport) + " " + string(d.Media)
	}
	return string(d.Transport)
}

// wipeSummary is what a wipe would use (the first available technique in
// the table's order of preference), or why the device is refused.
func wipeSummary(v deviceView) string {
	if len(v.Refusals) > 0 {
		var rs []string
		for _, r := range v.Refusals {
			rs = append(rs, string(r.Reason))
		}
		return "REFUSED " + strings.Join(rs, ",")
	}
	for _, t := range v.Techniques {
		if t.Available {
			id := string(t.ID)
			for _, p := range []string{"nvme-", "ata-", "scsi-"} {
				id = strings.TrimPrefix(id, p)
			}
			return fmt.Sprintf("%s %s", strings.ToUpper(string(t.Category)), id)
		}
	}
	return "none available"
}

// noteList collects notes, each once: a note several devices share (loop
// devices have no pass-through, ...) is printed once with their names.
type noteList struct {
	order []string
	devs  map[string][]string
}

func (n *noteList) add(dev, note string) {
	if n.devs == nil {
		n.devs = map[string][]string{}
	}
	if _, ok := n.devs[note]; !ok {
		n.order = append(n.order, note)
	}
	if !slices.Contains(n.devs[note], dev) {
		n.devs[note] = append(n.devs[note], dev)
	}
}

func (n *noteList) write(w io.Writer, width int) {
	for _, note := range n.order {
		for _, l := range wrap(strings.Join(n.devs[note], ", ")+": "+note, width, "    ") {
			fmt.Fprintln(w, l)
		}
	}
}

// wrap breaks s into lines of at most width columns at spaces; later lines
// start with indent. A word longer than a line is kept whole.
func wrap(s string, width int, indent string) []string {
	var out []string
	line := ""
	for _, word := range strings.Fields(s) {
		switch {
		case line == "":
			line = word
			if len(out) > 0 {
				line = indent + word
			}
		case len(line)+1+len(word) <= width:
			line += " " + word
		default:
			out = append(out, line)
			line = indent + word
		}
	}
	if line != "" {
		out = append(out, line)
	}
	return out
}

// cut shortens s to n characters, marking the cut with "~".
func cut(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	if n <= 1 {
		return string(r[:max(n, 0)])
	}
	return string(r[:n-1]) + "~"
}

// writeDeviceTableWide is every field and every technique with the reason
// it is or is not available.
func writeDeviceTableWide(w io.Writer, views []deviceView) error {
	if len(views) == 0 {
		fmt.Fprintln(w, "no block devices found")
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "DEVICE\tSIZE\tSECTOR\tTRANSPORT\tMEDIA\tMODEL\tSERIAL\tWWN\tFIRMWARE\tFLAGS\tSTATE\tTECHNIQUES")
	for _, v := range views {
		d := v.Device
		var flags []string
		if d.Rotational {
			flags = append(flags, "rot")
		}
		if d.Removable {
			flags = append(flags, "rm")
		}
		if d.ReadOnly {
			flags = append(flags, "ro")
		}
		state := "ok"
		if len(v.Refusals) > 0 {
			var rs []string
			for _, r := range v.Refusals {
				rs = append(rs, string(r.Reason))
			}
			state = "refused:" + strings.Join(rs, ",")
		}
		var techs []string
		for _, t := range v.Techniques {
			if !t.Available {
				continue
			}
			est := ""
			if t.EstimateSeconds > 0 {
				est = ",~" + (time.Duration(t.EstimateSeconds) * time.Second).String()
			}
			techs = append(techs, fmt.Sprintf("%s(%s%s)", t.ID, t.Category, est))
		}
		fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			d.Path, devices.HumanBytes(d.SizeBytes), d.LogicalSectorSize, d.PhysicalSectorSize,
			d.Transport, d.Media, dash(d.Model), dash(d.Serial), dash(d.WWN), dash(d.Firmware),
			dash(strings.Join(flags, ",")), state, dash(strings.Join(techs, " ")))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	// Explain every refusal in words below the table; a note shared by
	// several devices is printed once.
	var notes noteList
	for _, v := range views {
		for _, r := range v.Refusals {
			notes.add(v.Path, r.Detail)
		}
		if v.BackingFile != "" {
			notes.add(v.Path, "loop device backed by "+v.BackingFile)
		}
		if v.ProbeError != "" {
			notes.add(v.Path, "probe failed, firmware techniques unknown: "+v.ProbeError)
		}
		if v.Interface != "" {
			for _, t := range v.Techniques {
				mark, est := "-", ""
				if t.Available {
					mark = "+"
				}
				if t.EstimateSeconds > 0 {
					est = fmt.Sprintf(", drive estimates %s", time.Duration(t.EstimateSeconds)*time.Second)
				}
				reason := ""
				if t.Reason != "" {
					reason = ": " + t.Reason
				}
				notes.add(v.Path, fmt.Sprintf("%s %s (%s%s)%s", mark, t.ID, t.Category, est, reason))
			}
		}
		for _, n := range v.Notes {
			notes.add(v.Path, n)
		}
	}
	for _, note := range notes.order {
		fmt.Fprintf(w, "  %s: %s\n", strings.Join(notes.devs[note], ", "), note)
	}
	return nil
}
