package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/lethe-project/lethe/devices"
	"github.com/lethe-project/lethe/wipe"
)

// deviceView is one row of `lethe devices`: the device, what refuses it,
// and what techniques apply.
type deviceView struct {
	*devices.Device
	Refusals   []refusalView   `json:"refusals"`
	Techniques []techniqueView `json:"techniques"`
	Wipeable   bool            `json:"wipeable"`
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
}

func viewOf(d *devices.Device) deviceView {
	v := deviceView{Device: d, Refusals: []refusalView{}, Techniques: []techniqueView{}}
	for _, r := range devices.Check(d) {
		v.Refusals = append(v.Refusals, refusalView{r.Reason, r.Detail, r.Forceable})
	}
	v.Wipeable = len(v.Refusals) == 0
	for _, t := range wipe.Applicable(d) {
		v.Techniques = append(v.Techniques, techniqueView{t.ID, t.Name, t.CategoryOn(d.Rotational)})
	}
	return v
}

func newDevicesCmd() *cobra.Command {
	var asJSON, all bool
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
				views = append(views, viewOf(d))
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
			techs = append(techs, fmt.Sprintf("%s(%s)", t.ID, t.Category))
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
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
