package main

import (
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/lethe-project/lethe/internal/config"
)

// configPath is the root's --config flag.
var configPath string

func addConfigFlag(fl *pflag.FlagSet) {
	fl.StringVar(&configPath, "config", "", "configuration file (default $"+config.EnvPath+", else "+config.DefaultPath+" if it exists)")
}

// loadConfig merges the configuration file, the environment and the flags
// the operator set on cmd (see package config). A flag's default never
// overrides the file: only flags given on the command line do.
func loadConfig(cmd *cobra.Command) (*config.Config, error) {
	c, err := config.Load(configPath)
	if err != nil {
		return nil, usageErr("configuration: %v", err)
	}
	if err := c.ApplyEnv(os.LookupEnv); err != nil {
		return nil, usageErr("configuration: %v", err)
	}
	if err := c.ApplyFlags(changedFlags(cmd.Flags())); err != nil {
		return nil, usageErr("%v", err)
	}
	return c, nil
}

// changedFlags collects the configuration flags the operator set.
func changedFlags(fl *pflag.FlagSet) config.Flags {
	out := config.Flags{}
	for _, s := range config.Specs {
		if s.Flag == "" {
			continue
		}
		f := fl.Lookup(s.Flag)
		if f == nil || !f.Changed {
			continue
		}
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			out[s.Flag] = sv.GetSlice()
			continue
		}
		out[s.Flag] = []string{f.Value.String()}
	}
	return out
}

// addSettingFlags registers the flags of every setting on cmd (for config
// show, which shows what they would change).
func addSettingFlags(fl *pflag.FlagSet) {
	for _, s := range config.Specs {
		if s.Flag == "" || fl.Lookup(s.Flag) != nil {
			continue
		}
		if s.List {
			fl.StringSlice(s.Flag, nil, s.Help)
			continue
		}
		fl.String(s.Flag, "", s.Help)
	}
}

func newConfigCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Show the effective configuration and where each setting came from",
		Long: `lethe reads ` + config.DefaultPath + ` (or --config FILE, or $` + config.EnvPath + `) for the
settings every wipe repeats: signing key, certificate directory, operator,
organization, site, default policy and verification, audit store. The
environment overrides the file and flags override both. Example file:

  key: /etc/lethe/lethe.key
  cert-dir: /var/lib/lethe/certificates
  operator: A. Tech
  organization: Example DC
  site: FRA2
  policy: purge
  verify: last
  audit:
    url: https://audit.example:8443
    ca: /etc/lethe/audit-ca.pem
    token: lapi_...          # the file must then be chmod 600
  pdf: true                 # a PDF beside each certificate
  station:
    exclude: [S3R14L, 0x5000c500a1b2c3d4]

Unknown or repeated settings and control characters are errors.`,
	}
	cmd.AddCommand(newConfigShowCmd())
	return cmd
}

func newConfigShowCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show [--config FILE] [SETTING FLAGS...]",
		Short: "Print the effective settings and where each came from",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				vals := c.Values()
				for i := range vals {
					if vals[i].Secret && len(vals[i].Values) > 0 {
						vals[i].Values = []string{vals[i].String()}
					}
					if vals[i].Values == nil {
						vals[i].Values = []string{}
					}
				}
				return writeJSON(out, struct {
					File     string         `json:"file"`
					Missing  bool           `json:"fileMissing,omitempty"`
					Settings []config.Value `json:"settings"`
				}{c.File, c.FileMissing, vals})
			}
			switch {
			case c.FileMissing:
				fmt.Fprintf(out, "configuration file: %s (not present: defaults, environment and flags only)\n\n", c.File)
			default:
				fmt.Fprintf(out, "configuration file: %s\n\n", c.File)
			}
			tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "SETTING\tVALUE\tFROM")
			for _, v := range c.Values() {
				val := v.String()
				src := v.Source.String()
				if val == "" {
					val, src = "-", "not set"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\n", v.Key, val, src)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if missing := c.Settings().Anonymous(); len(missing) > 0 {
				fmt.Fprintf(out, "\nnote: no %s set: lethe wipe refuses to write certificates that name nobody (set them here, or pass --allow-anonymous)\n", joinAnd(missing))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	addSettingFlags(cmd.Flags())
	return cmd
}

func joinAnd(s []string) string {
	switch len(s) {
	case 0:
		return ""
	case 1:
		return s[0]
	}
	return fmt.Sprintf("%s and %s", s[0], s[1])
}
