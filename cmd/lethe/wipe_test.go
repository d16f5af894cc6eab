//go:build linux

package main

import (
	"reflect"
	"testing"

	"github.com/spf13/cobra"

	"github.com/lethe-project/lethe/internal/station"
)

// lethe wipe's flag defaults are the pipeline's defaults, which the agent
// starts from too (agent.Config.Options).
func TestWipeFlagDefaultsAreThePipelines(t *testing.T) {
	var f wipeFlags
	cmd := &cobra.Command{}
	f.addWipeFlags(cmd)
	if err := cmd.ParseFlags(nil); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(f.opts, station.DefaultOptions()) {
		t.Fatalf("lethe wipe defaults %+v differ from station.DefaultOptions %+v", f.opts, station.DefaultOptions())
	}
	var p wipeFlags
	cmd = &cobra.Command{}
	p.addPlanFlags(cmd)
	if err := cmd.ParseFlags(nil); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p.opts, station.DefaultOptions()) {
		t.Fatalf("lethe plan defaults %+v differ from station.DefaultOptions %+v", p.opts, station.DefaultOptions())
	}
}

// --all-namespaces reaches the firmware options.
func TestAllNamespacesFlag(t *testing.T) {
	var f wipeFlags
	cmd := &cobra.Command{}
	f.addWipeFlags(cmd)
	if err := cmd.ParseFlags([]string{"--all-namespaces"}); err != nil {
		t.Fatal(err)
	}
	cfg, err := f.opts.Parse()
	if err != nil || !cfg.Firmware.AllNamespaces {
		t.Fatalf("--all-namespaces: %+v %v", cfg.Firmware, err)
	}
}
