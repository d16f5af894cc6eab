//go:build linux

package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lethe-project/lethe/internal/devices"
	"github.com/lethe-project/lethe/internal/station"
	"github.com/lethe-project/lethe/internal/wipe"
)

func newPlanCmd() *cobra.Command {
	var f wipeFlags
	var captureDir string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "plan [flags] (DEVICE... | --all [--exclude ID]... | --capture DIR)",
		Short: "Show what wipe would do to each drive, and why; writes nothing",
		Long: `Run the same guards and the same planner as wipe, and print for each
drive the chosen technique, its NIST category, every technique considered
with the reason it was or was not chosen, and the verification. Writes
nothing. Exit status 2 when a guard refuses a drive, 1 when the policy
refuses one (purge-or-fail with no Purge technique).

--capture DIR replays a drive's captured tool output (nvme id-ctrl/id-ns/
sanitize-log, hdparm -I/--Istdout/-N, smartctl -x, sg_inq/sg_readcap/
sg_vpd/sg_opcodes; see docs/captures.md) through the same probe and
planner, with no device: DIR is one capture directory (with a PROVENANCE
file) or a directory of them.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			// The configuration's default policy and verification apply
			// here as in lethe wipe (flags override them).
			c, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			f.opts.Policy, f.opts.Verify = c.Settings().Policy, c.Settings().Verify
			cfg, err := f.opts.Parse()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if captureDir != "" {
				if len(args) > 0 || f.sel.All {
					return usageErr("--capture replays captured data: give no DEVICE and no --all")
				}
				cps, err := wipe.PlanCaptures(cmd.Context(), captureDir, cfg.Request, cfg.Firmware)
				if err != nil {
					return usageErr("%v", err)
				}
				drives := make([]station.Drive, len(cps))
				for i, c := range cps {
					drives[i] = station.Drive{Device: c.Device, Caps: c.Caps, Plan: c.Plan}
				}
				if asJSON {
					if err := writeJSON(out, cps); err != nil {
						return err
					}
					return station.Refusals(drives)
				}
				for i, c := range cps {
					fmt.Fprintf(out, "capture %s (%s)\n", c.ID, c.Source)
					writePlan(out, drives[i], cfg)
				}
				return station.Refusals(drives)
			}
			f.sel.Args = args
			list, skips, err := station.Select(f.sel, logger)
			for _, s := range skips {
				fmt.Fprintf(out, "%s: skip: %s\n", s.Device.Path, s.Reason)
			}
			if err != nil {
				return err
			}
			drives := station.PlanAll(cmd.Context(), list, cfg)
			if asJSON {
				views := make([]planJSON, len(drives))
				for i, d := range drives {
					views[i] = planJSON{Device: d.Device, Caps: d.Caps, Plan: d.Plan}
				}
				if err := writeJSON(out, views); err != nil {
					return err
				}
				return station.Refusals(drives)
			}
			for _, d := range drives {
				writePlan(out, d, cfg)
			}
			return station.Refusals(drives)
		},
	}
	f.addPlanFlags(cmd)
	cmd.Flags().StringVar(&captureDir, "capture", "", "replay captured tool output from DIR (a capture, or a directory of captures) instead of probing a device; see docs/captures.md")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the plans as JSON")
	return cmd
}

// planJSON is one drive's plan as --json prints it.
type planJSON struct {
	Device *devices.Device   `json:"device"`
	Caps   wipe.Capabilities `json:"capabilities"`
	Plan   wipe.Plan         `json:"plan"`
}

func writePlan(out io.Writer, p station.Drive, cfg station.Config) {
	d, pl, v := p.Device, p.Plan, cfg.Verify
	fmt.Fprintf(out, "%s\n", d.Label())
	fmt.Fprintf(out, "  size       %s (%d bytes, %d-byte sectors), %s over %s\n", devices.HumanBytes(d.SizeBytes), d.SizeBytes, d.LogicalSectorSize, d.Media, d.Transport)
	if pl.Refusal != "" {
		fmt.Fprintf(out, "  REFUSED    %s\n", pl.Refusal)
	} else {
		fmt.Fprintf(out, "  technique  %s -> %s\n", pl.Technique.Name, strings.ToUpper(string(pl.Category)))
		if pl.Estimate > 0 {
			fmt.Fprintf(out, "  estimate   %s (the drive's own)\n", pl.Estimate)
		}
	}
	for _, line := range pl.Decision {
		fmt.Fprintf(out, "  why        %s\n", line)
	}
	for _, c := range pl.Considered {
		mark := "-"
		if c.Available {
			mark = "+"
		}
		reason := ""
		if c.Estimate > 0 {
			reason = ", drive estimates " + c.Estimate.String()
		}
		if c.Reason != "" {
			reason += ": " + c.Reason
		}
		fmt.Fprintf(out, "  considered %s %s (%s)%s\n", mark, c.Technique, c.Category, reason)
	}
	if p.Caps.ProbeError != "" {
		fmt.Fprintf(out, "  probe      failed: %s\n", p.Caps.ProbeError)
	}
	for _, n := range p.Caps.Notes {
		fmt.Fprintf(out, "  note       %s\n", n)
	}
	if pl.Refusal != "" {
		return
	}
	if pl.Technique.ID == wipe.TechOverwrite {
		m := pl.Method
		fmt.Fprintf(out, "  passes     %d: [%s]\n", len(m.Passes), strings.Join(m.Passes, " "))
		written := int64(len(m.Passes)) * d.SizeBytes
		read := int64(0)
		switch v {
		case wipe.VerifyLast:
			read = d.SizeBytes
			fmt.Fprintf(out, "  verify     full read-back of pass %d\n", len(m.Passes))
		case wipe.VerifyAll:
			read = written
			fmt.Fprintf(out, "  verify     full read-back after every pass\n")
		case wipe.VerifySample:
			read = int64(float64(d.SizeBytes) * cfg.SamplePercent / 100)
			fmt.Fprintf(out, "  verify     sampled read-back of pass %d: >= %.1f%% in >= %d subsections, first and last LBA\n", len(m.Passes), cfg.SamplePercent, wipe.MinSubsections)
		case wipe.VerifyOff:
			fmt.Fprintf(out, "  verify     none: the certificate will say PARTIAL\n")
		}
		fmt.Fprintf(out, "  I/O        writes %s, reads %s\n", devices.HumanBytes(written), devices.HumanBytes(read))
	} else {
		fmt.Fprintf(out, "  proof      canaries and fingerprints planted before, checked after; the drive must be seen sanitizing or its completion attributed\n")
		switch v {
		case wipe.VerifyOff:
			fmt.Fprintf(out, "  verify     the proof only (--verify off)\n")
		case wipe.VerifySample:
			fmt.Fprintf(out, "  verify     sampled read-back (%.1f%%) where the technique defines the content afterwards\n", cfg.SamplePercent)
		default:
			fmt.Fprintf(out, "  verify     full read-back where the technique defines the content afterwards (zeros, a pattern), else the proof only\n")
		}
	}
	switch {
	case p.Caps.Hidden != nil:
		fmt.Fprintf(out, "  hidden     %s\n", p.Caps.Hidden.String())
	default:
		fmt.Fprintf(out, "  hidden     %s\n", station.HiddenAreasNote(d))
	}
}
