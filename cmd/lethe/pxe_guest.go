//go:build linux && lethe_guest

package main

import "github.com/spf13/cobra"

// The boot image does not serve other machines: lethe pxe is left out of
// its lethe, with the image builder.
func newPXECmd() *cobra.Command {
	return &cobra.Command{
		Use:    "pxe",
		Short:  "Network-boot server (not available inside the boot image)",
		Hidden: true,
		RunE: func(*cobra.Command, []string) error {
			return usageErr("lethe pxe serve runs on a server of the wipe network, not inside the boot image")
		},
	}
}
