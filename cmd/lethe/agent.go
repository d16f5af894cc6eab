//go:build linux

package main

import (
	"github.com/spf13/cobra"

	"github.com/lethe-project/lethe/internal/agent"
)

func newAgentCmd() *cobra.Command {
	var o agent.RunOptions
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "The boot image's unattended wipe: every disk but the boot medium, certificates to the audit store",
		Long: `Run the boot image's unattended wipe, configured by lethe.* parameters on the
kernel command line (and a signed configuration file it names): load the
storage and network drivers, bring the network up with DHCP, find every
disk, keep the boot medium and excluded disks, wipe the rest in parallel
per policy, sign a certificate per drive with a per-boot key (and the TPM's
key where there is a TPM), deliver every certificate to the audit store,
and power off once the store has them all.

Without lethe.policy=... it wipes nothing. See README.md ("The boot image
and the agent") for every parameter. Outside the boot image it refuses to
run unless --outside-image is given: it would wipe this machine's disks.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Out, o.Version, o.Tool, o.Log = cmd.OutOrStdout(), version, toolInfo(), logger
			return agent.Run(cmd.Context(), o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Cmdline, "cmdline", "", "read lethe.* parameters from this string instead of /proc/cmdline")
	fl.StringVar(&o.Work, "work", "/run/lethe", "directory for the log, certificates and the audit spool")
	fl.BoolVar(&o.OutsideImage, "outside-image", false, "run outside the boot image (never powers off; wipes what it finds!)")
	fl.BoolVar(&o.NoModules, "no-modules", false, "do not load kernel modules")
	fl.BoolVar(&o.NoEnd, "no-end", false, "exit when done instead of lethe.end/lethe.onfail (when run from the rescue shell)")
	cmd.AddCommand(newAgentSignConfigCmd(), newAgentCheckConfigCmd())
	return cmd
}
