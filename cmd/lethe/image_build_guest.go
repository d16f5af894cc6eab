//go:build linux && lethe_guest

package main

import "github.com/spf13/cobra"

// The boot image's lethe is built with the lethe_guest tag: it cannot
// build images (no Go toolchain, no source tree in the image), and leaving
// the builder out keeps mkuimage and the Go package loader out of the
// initramfs.
func newImageBuildCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "build",
		Short:  "Build the boot image (not available inside the boot image)",
		Hidden: true,
		RunE: func(*cobra.Command, []string) error {
			return usageErr("lethe image build runs on a build machine with lethe's source tree, not inside the boot image")
		},
	}
}
