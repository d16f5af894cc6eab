package kmod

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// modinfo builds a .modinfo section the way modpost lays it out:
// NUL-terminated key=value strings, possibly with padding NULs between.
func modinfo(fields ...string) []byte {
	var b bytes.Buffer
	for _, f := range fields {
		b.WriteString(f)
		b.WriteByte(0)
	}
	return b.Bytes()
}

func TestParseModinfo(t *testing.T) {
	tests := []struct {
		name    string
		section []byte
		want    Info
	}{
		{
			// Fields as in Debian 6.1's t10-pi.ko and crc-t10dif.ko.
			name: "depends and softdep",
			section: modinfo("license=GPL", "softdep=pre: crct10dif", "depends=crct10dif_common",
				"retpoline=Y", "intree=Y", "name=crc_t10dif", "vermagic=6.1.0-56-amd64 SMP preempt mod_unload modversions "),
			want: Info{Name: "crc_t10dif", Depends: []string{"crct10dif_common"}, SoftPre: []string{"crct10dif"}},
		},
		{
			name:    "dashes normalized, several deps",
			section: modinfo("depends=crc-t10dif,crc64-rocksoft", "name=t10_pi"),
			want:    Info{Name: "t10_pi", Depends: []string{"crc_t10dif", "crc64_rocksoft"}},
		},
		{
			name:    "empty depends, aliases, padding",
			section: append(append(modinfo("alias=crypto-crct10dif", "alias=crct10dif"), 0, 0, 0), modinfo("depends=", "name=crct10dif_generic")...),
			want:    Info{Name: "crct10dif_generic", Aliases: []string{"crypto-crct10dif", "crct10dif"}},
		},
		{
			// cifs.ko writes MODULE_SOFTDEP("ecb") without pre:/post:; kmod
			// ignores such names and so do we.
			name:    "softdep without section",
			section: modinfo("softdep=ecb", "softdep=pre: ccm", "softdep=post: gcm", "name=cifs"),
			want:    Info{Name: "cifs", SoftPre: []string{"ccm"}, SoftPost: []string{"gcm"}},
		},
		{
			name:    "pre and post in one entry",
			section: modinfo("softdep=pre: a b post: c", "name=x"),
			want:    Info{Name: "x", SoftPre: []string{"a", "b"}, SoftPost: []string{"c"}},
		},
		{
			name:    "garbage without '='",
			section: modinfo("garbage", "name=y"),
			want:    Info{Name: "y"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ParseModinfo(tt.section)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func FuzzParseModinfo(f *testing.F) {
	f.Add(modinfo("softdep=pre: crct10dif", "depends=crct10dif_common", "name=crc_t10dif"))
	f.Add(modinfo("softdep=post: a pre: b", "alias=x", "depends=a-b,c"))
	f.Add([]byte("depends=,,,\x00name=-\x00"))
	f.Fuzz(func(t *testing.T, section []byte) {
		inf := ParseModinfo(section)
		for _, d := range slices.Concat([]string{inf.Name}, inf.Depends) {
			if strings.Contains(d, "-") {
				t.Errorf("name %q not normalized", d)
			}
		}
		for _, d := range inf.Depends {
			if d == "" {
				t.Error("empty dependency")
			}
		}
	})
}

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{
		"crc-t10dif":                       "crc_t10dif",
		"kernel/lib/crc-t10dif.ko":         "crc_t10dif",
		"usb_storage":                      "usb_storage",
		"kernel/drivers/md/dm-flakey.ko":   "dm_flakey",
		"kernel/drivers/nvme/host/nvme.ko": "nvme",
	} {
		if got := Normalize(in); got != want {
			t.Errorf("Normalize(%q) = %q, want %q", in, got, want)
		}
	}
}

// tree is a synthetic kernel: nvme needs nvme_core needs t10_pi needs
// crc_t10dif (soft: the crct10dif alias) and crc64_rocksoft; crc64 is
// built in.
func tree() *Tree {
	mods := []*Info{
		{Name: "nvme", Path: "kernel/drivers/nvme/host/nvme.ko", Depends: []string{"nvme_core"}},
		{Name: "nvme_core", Path: "kernel/drivers/nvme/host/nvme-core.ko", Depends: []string{"t10_pi"}},
		{Name: "t10_pi", Path: "kernel/block/t10-pi.ko", Depends: []string{"crc_t10dif", "crc64_rocksoft"}},
		{Name: "crc_t10dif", Path: "kernel/lib/crc-t10dif.ko", Depends: []string{"crct10dif_common"}, SoftPre: []string{"crct10dif"}},
		{Name: "crct10dif_common", Path: "kernel/crypto/crct10dif_common.ko"},
		{Name: "crct10dif_generic", Path: "kernel/crypto/crct10dif_generic.ko", Depends: []string{"crct10dif_common"}, Aliases: []string{"crypto-crct10dif", "crct10dif"}},
		{Name: "crct10dif_pclmul", Path: "kernel/arch/x86/crypto/crct10dif-pclmul.ko", Depends: []string{"crct10dif_common"}, Aliases: []string{"crct10dif"}},
		{Name: "crc64_rocksoft", Path: "kernel/lib/crc64-rocksoft.ko", Depends: []string{"crc64"}, SoftPre: []string{"crc64"}},
		{Name: "dm_mod", Path: "kernel/drivers/md/dm-mod.ko"},
		{Name: "dm_flakey", Path: "kernel/drivers/md/dm-flakey.ko", Depends: []string{"dm_mod"}},
		{Name: "unused", Path: "kernel/unused.ko"},
	}
	t := &Tree{Kernel: "6.1.0-test-amd64", Modules: map[string]*Info{}, Builtin: map[string]bool{"crc64": true, "ext4": true}}
	for _, m := range mods {
		t.Modules[m.Name] = m
	}
	return t
}

func names(ms []*Module) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Name)
	}
	return out
}

func TestSelectOrderAndDefaults(t *testing.T) {
	ix, err := tree().Select([]string{"nvme"}, []string{"dm-flakey"})
	if err != nil {
		t.Fatal(err)
	}
	// Dependencies first; ties broken alphabetically.
	want := []string{"crc64_rocksoft", "crct10dif_common", "crct10dif_generic", "crct10dif_pclmul", "crc_t10dif", "dm_mod", "dm_flakey", "t10_pi", "nvme_core", "nvme"}
	if got := names(ix.Modules); !slices.Equal(got, want) {
		t.Errorf("order %v\nwant  %v", got, want)
	}
	if !slices.Equal(ix.Builtin, []string{"crc64"}) {
		t.Errorf("builtin %v, want [crc64]", ix.Builtin)
	}
	def := map[string]bool{}
	for _, m := range ix.Modules {
		def[m.Name] = m.Default
	}
	for n, want := range map[string]bool{
		"nvme": true, "nvme_core": true, "t10_pi": true, "crc_t10dif": true, "crct10dif_common": true, "crc64_rocksoft": true,
		// soft dependencies are loaded but optional
		"crct10dif_generic": false, "crct10dif_pclmul": false,
		// extras load only by name
		"dm_flakey": false, "dm_mod": false,
	} {
		if def[n] != want {
			t.Errorf("%s: Default=%v, want %v", n, def[n], want)
		}
	}
	m, _ := ix.Lookup("crc-t10dif")
	if !slices.Equal(m.SoftPre, []string{"crct10dif_generic", "crct10dif_pclmul"}) {
		t.Errorf("crc_t10dif soft deps %v: the alias must resolve to both providers", m.SoftPre)
	}
	// The same selection gives the same bytes.
	var a, b bytes.Buffer
	ix.Write(&a)
	ix2, _ := tree().Select([]string{"nvme"}, []string{"dm_flakey"})
	ix2.Write(&b)
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("index not deterministic")
	}
}

func TestSelectErrors(t *testing.T) {
	if _, err := tree().Select([]string{"nosuch"}, nil); !errors.Is(err, ErrUnknownModule) {
		t.Errorf("unknown root: %v", err)
	}
	tr := tree()
	tr.Modules["nvme_core"].Depends = append(tr.Modules["nvme_core"].Depends, "missing_dep")
	_, err := tr.Select([]string{"nvme"}, nil)
	if !errors.Is(err, ErrUnknownModule) || !strings.Contains(err.Error(), "needed by nvme <- nvme_core") {
		t.Errorf("missing dependency: %v", err)
	}
	tr = tree()
	tr.Modules["crct10dif_common"].Depends = []string{"nvme"}
	if _, err := tr.Select([]string{"nvme"}, nil); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Errorf("cycle: %v", err)
	}
	// A built-in root is fine and needs nothing.
	ix, err := tree().Select([]string{"ext4"}, nil)
	if err != nil || len(ix.Modules) != 0 || !ix.IsBuiltin("ext4") {
		t.Errorf("built-in root: %v %v", ix, err)
	}
}

func TestPlan(t *testing.T) {
	ix, err := tree().Select([]string{"nvme"}, []string{"dm_flakey"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := ix.Plan()
	if err != nil {
		t.Fatal(err)
	}
	if got := names(p); slices.Contains(got, "dm_flakey") || !slices.Contains(got, "crct10dif_generic") || got[len(got)-1] != "nvme" {
		t.Errorf("default plan %v", got)
	}
	p, err = ix.Plan("dm-flakey")
	if err != nil {
		t.Fatal(err)
	}
	if got := names(p); !slices.Equal(got, []string{"dm_mod", "dm_flakey"}) {
		t.Errorf("plan dm-flakey %v", got)
	}
	if _, err := ix.Plan("unused"); !errors.Is(err, ErrUnknownModule) {
		t.Errorf("plan of an unshipped module: %v", err)
	}
	if p, err := ix.Plan("crc64"); err != nil || len(p) != 0 {
		t.Errorf("plan of a built-in module: %v %v", names(p), err)
	}
}

func TestReadIndexRejects(t *testing.T) {
	for name, js := range map[string]string{
		"order":     `{"kernel":"k","modules":[{"name":"b","path":"b.ko","deps":["a"]},{"name":"a","path":"a.ko"}]}`,
		"traversal": `{"kernel":"k","modules":[{"name":"a","path":"../../etc/a.ko"}]}`,
		"absolute":  `{"kernel":"k","modules":[{"name":"a","path":"/a.ko"}]}`,
		"twice":     `{"kernel":"k","modules":[{"name":"a","path":"a.ko"},{"name":"a","path":"b.ko"}]}`,
		"json":      `{"kernel":`,
	} {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, IndexFile), []byte(js), 0o644)
		if _, err := ReadIndex(dir); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// loaderDir writes the synthetic index and empty module files.
func loaderDir(t *testing.T) (dir, sys string) {
	t.Helper()
	ix, err := tree().Select([]string{"nvme"}, []string{"dm_flakey"})
	if err != nil {
		t.Fatal(err)
	}
	dir, sys = t.TempDir(), t.TempDir()
	for _, m := range ix.Modules {
		p := filepath.Join(dir, filepath.FromSlash(m.Path))
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(m.Name), 0o644)
	}
	var b bytes.Buffer
	ix.Write(&b)
	os.WriteFile(filepath.Join(dir, IndexFile), b.Bytes(), 0o644)
	return dir, sys
}

func statuses(rs []Result) map[string]Status {
	m := map[string]Status{}
	for _, r := range rs {
		m[r.Name] = r.Status
	}
	return m
}

func TestLoad(t *testing.T) {
	dir, sys := loaderDir(t)
	// crc64_rocksoft is live already (listed in /sys/module).
	os.MkdirAll(filepath.Join(sys, "crc64_rocksoft"), 0o755)
	os.WriteFile(filepath.Join(sys, "crc64_rocksoft", "initstate"), []byte("live\n"), 0o444)
	var calls []string
	params := map[string]string{}
	l := &Loader{Dir: dir, SysModule: sys, finit: func(f *os.File, p string) error {
		data, _ := os.ReadFile(f.Name())
		name := string(data)
		calls = append(calls, name)
		params[name] = p
		switch name {
		case "crct10dif_pclmul":
			return unix.ENODEV // no PCLMULQDQ on this CPU: optional, tolerated
		case "crct10dif_common":
			return unix.EEXIST // loaded behind our back
		}
		return nil
	}}
	res, err := l.Load()
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := map[string]Status{
		"crct10dif_common": Already, "crct10dif_generic": Loaded, "crct10dif_pclmul": Failed,
		"crc_t10dif": Loaded, "crc64_rocksoft": Already, "t10_pi": Loaded, "nvme_core": Loaded, "nvme": Loaded,
	}
	if got := statuses(res); !reflect.DeepEqual(got, want) {
		t.Errorf("statuses %v\nwant %v", got, want)
	}
	if slices.Contains(calls, "crc64_rocksoft") {
		t.Error("finit_module called for a live module")
	}
	for _, r := range res {
		if r.Name == "crct10dif_pclmul" && !r.Optional {
			t.Error("soft dependency not optional")
		}
	}

	// Parameters go to the named module only.
	calls = nil
	if _, err := l.Load(ParseRequest("dm-flakey  foo=1 bar=2")); err != nil {
		t.Fatal(err)
	}
	if params["dm_flakey"] != "foo=1 bar=2" || params["dm_mod"] != "" {
		t.Errorf("params %v", params)
	}
}

func TestLoadFailurePropagates(t *testing.T) {
	dir, sys := loaderDir(t)
	l := &Loader{Dir: dir, SysModule: sys, finit: func(f *os.File, _ string) error {
		if data, _ := os.ReadFile(f.Name()); string(data) == "t10_pi" {
			return unix.ENOEXEC
		}
		return nil
	}}
	res, err := l.Load(Request{Name: "nvme"})
	if err == nil {
		t.Fatal("Load succeeded with a required module failing")
	}
	for _, n := range []string{"t10_pi", "nvme_core", "nvme"} {
		if !strings.Contains(err.Error(), "module "+n) {
			t.Errorf("error does not name %s: %v", n, err)
		}
	}
	got := statuses(res)
	if got["t10_pi"] != Failed || got["nvme_core"] != Skipped || got["nvme"] != Skipped || got["crc_t10dif"] != Loaded {
		t.Errorf("statuses %v", got)
	}
	if _, err := l.Load(Request{Name: "unused"}); !errors.Is(err, ErrUnknownModule) {
		t.Errorf("unshipped module: %v", err)
	}
}

func TestSettle(t *testing.T) {
	sys := t.TempDir()
	os.MkdirAll(filepath.Join(sys, "block", "sda"), 0o755)
	nvme := filepath.Join(sys, "class", "nvme", "nvme0")
	os.MkdirAll(nvme, 0o755)
	os.WriteFile(filepath.Join(nvme, "state"), []byte("resetting\n"), 0o444)

	// A controller that stays "resetting" holds Settle up until the deadline.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := Settle(ctx, sys, 50*time.Millisecond); err == nil || !strings.Contains(err.Error(), "nvme0 is resetting") {
		t.Errorf("Settle with a resetting controller: %v", err)
	}

	// Once it is live and its namespace appears, Settle returns the disks.
	go func() {
		time.Sleep(100 * time.Millisecond)
		os.WriteFile(filepath.Join(nvme, "state"), []byte("live\n"), 0o444)
		time.Sleep(100 * time.Millisecond)
		os.MkdirAll(filepath.Join(sys, "block", "nvme0n1"), 0o755)
	}()
	ctx2, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel2()
	got, err := Settle(ctx2, sys, 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []string{"nvme0n1", "sda"}) {
		t.Errorf("Settle = %v", got)
	}
}
