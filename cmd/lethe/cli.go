package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
	"github.com/spf13/pflag"

	"github.com/lethe-project/lethe/internal/config"
)

// polishCLI makes mistakes cheap: a mistyped flag or subcommand gets a
// suggestion and exit status 2 (never a help page and status 0), and adds
// the man page generator. Shell completion is cobra's own `lethe
// completion bash|zsh|fish|powershell`.
func polishCLI(root *cobra.Command) {
	root.SuggestionsMinimumDistance = 2
	root.SetFlagErrorFunc(flagError)
	root.AddCommand(newManCmd())
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.HasSubCommands() && c.Run == nil && c.RunE == nil {
			c.Args = cobra.ArbitraryArgs
			c.RunE = groupRun
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	for _, c := range root.Commands() {
		walk(c)
	}
}

// groupRun runs a command that only groups subcommands: alone it shows its
// help; with a word that is no subcommand, it is a usage error with the
// closest subcommands.
func groupRun(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return cmd.Help()
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	var names []string
	for _, c := range cmd.Commands() {
		if c.IsAvailableCommand() {
			names = append(names, c.Name())
		}
	}
	if best := config.Suggest(args[0], names); best != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", best)
	} else {
		msg += "; its commands are " + strings.Join(names, ", ")
	}
	return &exitError{exitUsage, errors.New(msg)}
}

// flagError adds the closest flag name to pflag's "unknown flag" error.
func flagError(cmd *cobra.Command, err error) error {
	msg := err.Error()
	name, ok := strings.CutPrefix(msg, "unknown flag: --")
	if ok {
		var names []string
		add := func(f *pflag.Flag) { names = append(names, f.Name) }
		cmd.Flags().VisitAll(add)
		cmd.InheritedFlags().VisitAll(add)
		if best := config.Suggest(name, names); best != "" {
			msg += fmt.Sprintf(" (did you mean --%s?)", best)
		} else {
			msg += fmt.Sprintf(" (lethe %s --help lists them)", strings.TrimPrefix(cmd.CommandPath(), "lethe "))
		}
		return &exitError{exitUsage, errors.New(msg)}
	}
	return &exitError{exitUsage, err}
}

func newManCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "man --out DIR",
		Short: "Write man pages for lethe and every subcommand (lethe.1, lethe-wipe.1, ...)",
		Long: `Write a man page per command into DIR, generated from the same help text
the commands print. Install them with, for example:

  lethe man --out /usr/local/share/man/man1 && mandb -q

Shell completion: lethe completion bash > /etc/bash_completion.d/lethe
(also zsh, fish, powershell; see lethe completion --help).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return usageErr("--out DIR is required")
			}
			if err := os.MkdirAll(out, 0o755); err != nil {
				return err
			}
			// A fixed date keeps the pages reproducible for packaging.
			date := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			if sde := os.Getenv("SOURCE_DATE_EPOCH"); sde != "" {
				var sec int64
				if _, err := fmt.Sscan(sde, &sec); err == nil {
					date = time.Unix(sec, 0).UTC()
				}
			}
			hdr := &doc.GenManHeader{Title: "LETHE", Section: "1", Source: "lethe " + version, Manual: "lethe manual", Date: &date}
			root := cmd.Root()
			root.DisableAutoGenTag = true
			if err := doc.GenManTree(root, hdr, out); err != nil {
				return err
			}
			n, _ := filepath.Glob(filepath.Join(out, "lethe*.1"))
			fmt.Fprintf(cmd.OutOrStdout(), "%d man pages in %s\n", len(n), out)
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "directory for the pages")
	return cmd
}
