package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/lethe-project/lethe/devices"
	"github.com/lethe-project/lethe/wipe"
)

func newPlanCmd() *cobra.Command {
	var f wipeFlags
	cmd := &cobra.Command{
		Use:   "plan [flags] (DEVICE... | --all [--exclude ID]...)",
		Short: "Show what wipe would do to each drive, and why; writes nothing",
		RunE: func(cmd *cobra.Command, args []string) error {
			method, verify, err := f.job()
			if err != nil {
				return err
			}
			sel := selection{args: args, all: f.all, excludes: f.excludes, force: f.force}
			list, skips, err := sel.resolve()
			out := cmd.OutOrStdout()
			for _, s := range skips {
				fmt.Fprintf(out, "%s: skip: %s\n", s.dev.Path, s.reason)
			}
			if err != nil {
				return err
			}
			for _, d := range list {
				writePlan(out, d, f, method, verify)
			}
			return nil
		},
	}
	f.addPlanFlags(cmd)
	return cmd
}

func writePlan(out interface{ Write([]byte) (int, error) }, d *devices.Device, f wipeFlags, m wipe.Method, v wipe.VerifyMode) {
	tech, _ := wipe.LookupTechnique(wipe.TechOverwrite)
	fmt.Fprintf(out, "%s\n", d.Label())
	fmt.Fprintf(out, "  size       %s (%d bytes, %d-byte sectors), %s over %s\n", devices.HumanBytes(d.SizeBytes), d.SizeBytes, d.LogicalSectorSize, d.Media, d.Transport)
	fmt.Fprintf(out, "  technique  %s -> %s\n", tech.Name, tech.CategoryOn(d.Rotational))
	fmt.Fprintf(out, "  why        %s\n", methodDecision(f, m))
	fmt.Fprintf(out, "  passes     %d: %v\n", len(m.Passes), m.Passes)
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
		read = int64(float64(d.SizeBytes) * f.samplePercent / 100)
		fmt.Fprintf(out, "  verify     sampled read-back of pass %d: >= %.1f%% in >= %d subsections, first and last LBA\n", len(m.Passes), f.samplePercent, wipe.MinSubsections)
	case wipe.VerifyOff:
		fmt.Fprintf(out, "  verify     none: the certificate will say PARTIAL\n")
	}
	fmt.Fprintf(out, "  I/O        writes %s, reads %s\n", devices.HumanBytes(written), devices.HumanBytes(read))
	fmt.Fprintf(out, "  hidden     %s\n", hiddenAreas(d).Note)
}
