package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
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
	var asJSON, all bool
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
				if d.Virtual && !all {
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
			return writeDeviceTable(cmd.OutOrStdout(), views)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON for machines")
	cmd.Flags().BoolVar(&all, "all", false, "include virtual devices (zram, dm, md, sr, nbd)")
	cmd.Flags().StringVar(&fo.StateDir, "state-dir", wipe.DefaultStateDir, "firmware job state (a drive locked by an interrupted lethe run counts as recoverable)")
	cmd.Flags().BoolVar(&fo.AllowUnfreeze, "allow-unfreeze", false, "count frozen ATA techniques as available (lethe wipe --allow-unfreeze unfreezes them)")
	return cmd
}

func writeDeviceTable(w io.Writer, views []deviceView) error {
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
	// Explain every refusal in words below the table.
	for _, v := range views {
		for _, r := range v.Refusals {
			fmt.Fprintf(w, "  %s: %s\n", v.Path, r.Detail)
		}
		if v.BackingFile != "" {
			fmt.Fprintf(w, "  %s: loop device backed by %s\n", v.Path, v.BackingFile)
		}
		if v.ProbeError != "" {
			fmt.Fprintf(w, "  %s: probe failed, firmware techniques unknown: %s\n", v.Path, v.ProbeError)
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
				fmt.Fprintf(w, "  %s: %s %s (%s%s)%s\n", v.Path, mark, t.ID, t.Category, est, reason)
			}
		}
		for _, n := range v.Notes {
			fmt.Fprintf(w, "  %s: %s\n", v.Path, n)
		}
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
