package main

import (
	"testing"

	"github.com/spf13/cobra"

	"github.com/lethe-project/lethe/internal/agent"
	"github.com/lethe-project/lethe/internal/wipe"
)

// The agent wipes exactly as lethe wipe does with the same options: its
// flags are lethe wipe's defaults with the configuration applied.
func TestAgentWipeFlagsMatchWipeDefaults(t *testing.T) {
	var def wipeFlags
	def.addWipeFlags(&cobra.Command{})
	cfg, err := agent.ParseCmdline(`lethe.policy=purge-or-fail lethe.verify=sample lethe.sample=25 lethe.operator="A Tech" lethe.job=J1 lethe.site=S`)
	if err != nil {
		t.Fatal(err)
	}
	f, verify, err := agentWipeFlags(cfg, "/run/lethe/certificates")
	if err != nil {
		t.Fatal(err)
	}
	if verify != wipe.VerifySample || f.samplePercent != 25 || f.policy != "purge-or-fail" || f.certDir != "/run/lethe/certificates" ||
		f.personnel.Operator != "A Tech" || f.personnel.Job != "J1" || f.personnel.Site != "S" {
		t.Errorf("configuration not applied: %+v", f)
	}
	if f.chunkMiB != def.chunkMiB || f.workers != def.workers || f.technique != def.technique || f.finalZero != def.finalZero || f.force {
		t.Errorf("agent I/O settings differ from lethe wipe's defaults: %+v vs %+v", f, def)
	}
	req := mustRequest(f)
	if req.Policy != wipe.PolicyPurgeOrFail || req.MethodExplicit {
		t.Errorf("request %+v", req)
	}
	cfg, _ = agent.ParseCmdline("lethe.policy=clear lethe.method=dod")
	f, _, err = agentWipeFlags(cfg, "/x")
	if err != nil || !mustRequest(f).MethodExplicit || mustRequest(f).Method.Name != "dod" || f.personnel.Operator == "" {
		t.Errorf("method dod: %+v %v", f, err)
	}
}

func TestShortTechnique(t *testing.T) {
	m, _ := wipe.ResolveMethod("random", nil, false)
	for _, tc := range []struct {
		p    wipe.Plan
		want string
	}{
		{wipe.Plan{Technique: wipe.Technique{ID: wipe.TechOverwrite}, Method: m}, "overwrite random"},
		{wipe.Plan{Technique: wipe.Technique{ID: wipe.TechNVMeSanitizeCrypto}}, "nvme-san-crypto"},
	} {
		if got := shortTechnique(tc.p); got != tc.want {
			t.Errorf("shortTechnique(%s) = %q, want %q", tc.p.Technique.ID, got, tc.want)
		}
	}
}
