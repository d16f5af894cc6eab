//go:build linux

package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/lethe-project/lethe/internal/agent/kmod"
)

func newModulesCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "modules",
		Short: "Load the kernel modules the boot image carries (it has no modprobe)",
	}
	cmd.AddCommand(newModulesLoadCmd(), newModulesListCmd())
	return cmd
}

func newModulesLoadCmd() *cobra.Command {
	var dir string
	var settle time.Duration
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "load [NAME[ PARAM=VALUE...]]...",
		Short: "Load modules with their dependencies, in order (all default modules without names)",
		Long: `Load kernel modules from the image's module directory with finit_module(2),
dependencies first. Without names, load every default module (storage
controllers, USB storage, virtio, device-mapper, NICs). An argument may
carry module parameters: 'scsi_debug dev_size_mb=64 num_tgts=2'.

Modules already loaded or built into the kernel are fine. A module that
fails is reported and the others still load; the exit status is 1 if any
named module, or one it needs, could not be loaded. Afterwards, wait until
the disks the drivers find have appeared (--settle, 0 to skip).`,
		RunE: func(cmd *cobra.Command, args []string) error {
			var reqs []kmod.Request
			for _, a := range args {
				reqs = append(reqs, kmod.ParseRequest(a))
			}
			l := &kmod.Loader{Dir: dir}
			start := time.Now()
			results, loadErr := l.Load(reqs...)
			if results == nil && loadErr != nil {
				return usageErr("%v", loadErr)
			}
			took := time.Since(start)
			var disks []string
			var settleErr error
			if settle > 0 {
				ctx, cancel := context.WithTimeout(cmd.Context(), settle)
				disks, settleErr = kmod.Settle(ctx, "/sys", 300*time.Millisecond)
				cancel()
			}
			out := cmd.OutOrStdout()
			if asJSON {
				if err := writeJSON(out, map[string]any{"modules": results, "took": took, "blockDevices": disks}); err != nil {
					return err
				}
			} else {
				tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "MODULE\tSTATUS\tTOOK\tERROR")
				for _, r := range results {
					st := string(r.Status)
					if r.Optional && !r.OK() {
						st += " (optional)"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Name, st, r.Took.Round(time.Millisecond), dash(r.Error))
				}
				tw.Flush()
				fmt.Fprintf(out, "%d modules in %s", len(results), took.Round(time.Millisecond))
				if settle > 0 {
					fmt.Fprintf(out, "; block devices: %s", dash(strings.Join(disks, " ")))
				}
				fmt.Fprintln(out)
			}
			if settleErr != nil {
				logger.Warn("disks did not settle", "error", settleErr)
			}
			if loadErr != nil {
				return failed("%v", loadErr)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", kmod.Dir, "module directory (holds "+kmod.IndexFile+")")
	cmd.Flags().DurationVar(&settle, "settle", 10*time.Second, "wait up to this long for disks to appear after loading (0: don't wait)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newModulesListCmd() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the image's modules in load order, and whether each is loaded",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ix, err := kmod.ReadIndex(dir)
			if err != nil {
				return usageErr("%v", err)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintf(tw, "MODULE\tDEFAULT\tLOADED\tDEPENDS\n")
			for _, m := range ix.Modules {
				loaded := "no"
				if st, err := os.ReadFile(filepath.Join("/sys/module", m.Name, "initstate")); err == nil {
					loaded = strings.TrimSpace(string(st))
				}
				def := ""
				if m.Default {
					def = "yes"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", m.Name, dash(def), loaded, dash(strings.Join(append(m.Deps, m.SoftPre...), ",")))
			}
			fmt.Fprintf(tw, "kernel %s; built in: %s\n", ix.Kernel, dash(strings.Join(ix.Builtin, ",")))
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&dir, "dir", kmod.Dir, "module directory (holds "+kmod.IndexFile+")")
	return cmd
}
