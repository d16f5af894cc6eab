//go:build linux

package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/lethe-project/lethe/internal/image/manifest"
)

func newImageCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "image",
		Short: "Build the network boot image, or check an image's digest",
	}
	cmd.AddCommand(newImageBuildCmd(), newImageDigestCmd())
	return cmd
}

func newImageDigestCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "digest [INITRAMFS]",
		Short: "Recompute an initramfs file's image digest, or print the running image's",
		Long: `With a file, recompute the image digest (sha256 of the initramfs body) from
its bytes and compare it with the digest its header records; exit 1 if they
differ. Certificates record this digest as tool.imageDigest.

Without a file, print the digest of the image lethe is running from
(/etc/lethe/image.json and build.json).`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			out := cmd.OutOrStdout()
			if len(args) == 0 {
				img, b, err := manifest.Running("/")
				if err != nil {
					return usageErr("not running from a lethe image: %v", err)
				}
				if asJSON {
					return writeJSON(out, map[string]any{"image": img, "build": b})
				}
				fmt.Fprintf(out, "image digest: %s\nlethe:        %s (%s)\nkernel:       %s %s (%s)\n",
					img.Digest, b.Lethe.Version, b.Lethe.GoVersion, b.Kernel.Package, b.Kernel.Version, b.Kernel.Release)
				return nil
			}
			rep, err := manifest.InspectFile(args[0])
			if err != nil {
				return usageErr("%s: %v", args[0], err)
			}
			if asJSON {
				if err := writeJSON(out, rep); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(out, "image digest:   %s\nheader says:    %s\nfile sha256:    %s\n", rep.Computed, rep.Image.Digest, rep.FileSHA256)
				if rep.Appended > 0 {
					fmt.Fprintf(out, "appended:       %d bytes after the body (not a released image as built)\n", rep.Appended)
				}
			}
			if !rep.OK() {
				return failed("%s: body digest %s does not match the header's %s", args[0], rep.Computed, rep.Image.Digest)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
