//go:build !linux

package main

import (
	"runtime"

	"github.com/spf13/cobra"
)

// On other systems lethe is the auditor's tool: it verifies, shows and
// renders certificates, checks receipts and validations, and runs or
// mirrors the audit store. The commands that drive block devices, build
// or serve boot images, or run the agent use Linux interfaces (block
// device ioctls, SG_IO, NVMe passthrough, netlink, kernel modules); here
// they say so.
func linuxOnly(use, short string) func() *cobra.Command {
	return func() *cobra.Command {
		return &cobra.Command{
			Use: use, Short: short + " (Linux only)",
			DisableFlagParsing: true,
			RunE: func(*cobra.Command, []string) error {
				return usageErr("lethe %s drives block devices and boot images through Linux interfaces; it is not available on %s (certificates, receipts and the audit store are)", use, runtime.GOOS)
			},
		}
	}
}

var (
	newDevicesCmd = linuxOnly("devices", "List block devices, their guards and techniques")
	newPlanCmd    = linuxOnly("plan", "Show what wipe would do")
	newWipeCmd    = linuxOnly("wipe", "Erase drives and sign certificates")
	newStationCmd = linuxOnly("station", "A wiping station for hot-swap bays")
	newVerifyCmd  = linuxOnly("verify", "Read a device back against a pattern or a certificate")
	newImageCmd   = linuxOnly("image", "Build or inspect the boot image")
	newModulesCmd = linuxOnly("modules", "Load the boot image's kernel modules")
	newAgentCmd   = linuxOnly("agent", "The boot image's unattended wipe")
	newPXECmd     = linuxOnly("pxe", "Network boot server")
)

// engineUsageError reports the errors of the wipe engine that are usage
// errors; there is no engine here.
func engineUsageError(error) bool { return false }
