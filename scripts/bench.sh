#!/usr/bin/env bash
# lethe overwrite/verify throughput against dd (raw device speed) and nwipe,
# on the same scratch loop devices, in one run. Prints medians and ratios.
#
#   sudo scripts/bench.sh                 # 4 GiB devices, 3 rounds
#   BENCH_SIZE_MIB=1024 ROUNDS=1 sudo scripts/bench.sh
#
# dd is the baseline: one 4 MiB O_DIRECT request at a time. lethe keeps 4 in
# flight, so "dd x4" (four dd over the four quarters at once) is printed too:
# a device that serves parallel requests faster than one stream shows it.
#
# Devices: a loop device on a file on disk with --direct-io=on (so the page
# cache is not measured) and one on tmpfs (the memory-speed ceiling), each
# with 4096- and 512-byte logical sectors. Only loop devices this script
# creates are written; they are detached on exit.
set -euo pipefail

LETHE=${LETHE:-./bin/lethe}
SIZE_MIB=${BENCH_SIZE_MIB:-4096}
SIZE_512_MIB=${BENCH_SIZE_512_MIB:-1024} # nwipe writes 512-byte sectors one by one: keep these smaller
ROUNDS=${ROUNDS:-3}
DISK_DIR=${BENCH_DISK_DIR:-/var/tmp}
SHM_DIR=${BENCH_SHM_DIR:-/dev/shm}

# Below this nwipe's run is shorter than its fixed overhead and no rate is
# measurable.
[ "$SIZE_MIB" -ge 256 ] && [ "$SIZE_512_MIB" -ge 256 ] || { echo "bench: sizes must be at least 256 MiB" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "bench: needs root (loop devices)" >&2; exit 2; }
for c in dd losetup nwipe /usr/bin/time python3; do
	command -v "$c" >/dev/null || { echo "bench: $c not installed (apt-get install nwipe time)" >&2; exit 2; }
done
[ -x "$LETHE" ] || { echo "bench: $LETHE missing (make build)" >&2; exit 2; }

work=$(mktemp -d /tmp/lethe-bench.XXXXXX)
loops=()
files=()
cleanup() {
	for l in "${loops[@]}"; do losetup -d "$l" 2>/dev/null || true; done
	for f in "${files[@]}"; do rm -f "$f"; done
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

"$LETHE" keygen --out "$work/key" >/dev/null

# mkloop DIR SIZE_MIB SECTOR [--direct-io=on]: sets $loopdev to the new loop
# device. Not called as $(mkloop ...): a subshell would keep the loops and
# files arrays to itself and the cleanup trap would leak them.
mkloop() {
	local f
	f=$(mktemp "$1/lethe-bench.XXXXXX.img")
	files+=("$f")
	truncate -s "${2}M" "$f"
	# Preallocate so the first pass does not measure block allocation.
	fallocate -l "${2}M" "$f" 2>/dev/null || dd if=/dev/zero of="$f" bs=4M count=$(($2 / 4)) status=none
	loopdev=$(losetup -f --show -b "$3" ${4:-} "$f")
	loops+=("$loopdev")
}

# timed CMD...: runs CMD, prints "wall user+sys" seconds
timed() {
	/usr/bin/time -f "%e %U %S" -o "$work/time" "$@" >"$work/out" 2>&1 || { cat "$work/out" >&2; return 1; }
	awk '{printf "%s %.3f\n", $1, $2 + $3}' "$work/time"
}

# rate from dd's own summary line ("... copied, 1.23 s, 4.5 GB/s"), in GB/s
dd_rate() {
	python3 - "$work/out" <<'EOF'
import re, sys
t = open(sys.argv[1]).read()
m = re.search(r"(\d+) bytes .* copied, ([\d.]+) s", t)
print("%.3f" % (int(m.group(1)) / float(m.group(2)) / 1e9))
EOF
}

# rate of lethe's phase from its final JSON progress event, in GB/s
lethe_rate() {
	python3 - "$work/out" "$1" <<'EOF'
import json, sys
phase = sys.argv[2]
for line in open(sys.argv[1]):
    try:
        ev = json.loads(line)
    except ValueError:
        continue
    if ev.get("event") == "progress" and ev.get("final") and ev.get("phase") == phase:
        print("%.3f" % (float(ev["rate_mb_s"]) / 1000))
        break
EOF
}

# ddpar DIR: 4 dd processes at once over the device's four quarters, as lethe
# keeps 4 requests in flight; prints GB/s from the wall time of all four.
ddpar() {
	local q=$((size / 16)) i start end
	start=$(date +%s.%N)
	for i in 0 1 2 3; do
		if [ "$1" = write ]; then
			dd if=/dev/zero of="$dev" bs=4M count=$q seek=$((i * q)) oflag=direct status=none &
		else
			dd if="$dev" of=/dev/null bs=4M count=$q skip=$((i * q)) iflag=direct status=none &
		fi
	done
	wait
	end=$(date +%s.%N)
	python3 -c "print('%.3f' % ($size * 1048576 / 1e9 / ($end - $start)))"
}

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

# nwipe's fixed cost (startup, and ~2 s at exit): measured on a tiny device
# and subtracted, so its rate reflects its writing, not its exit delay.
mkloop "$SHM_DIR" 16 4096
tiny=$loopdev
timed nwipe --nogui --autonuke --nowait --noblank --method=zero --verify=off "$tiny" >/dev/null
nwipe_overhead=$(awk '{print $1}' "$work/time")

printf '# lethe benchmark: %s rounds, %s MiB (4 KiB sectors) / %s MiB (512 B sectors)\n' "$ROUNDS" "$SIZE_MIB" "$SIZE_512_MIB"
printf '# %s; nwipe %s fixed overhead %.2fs subtracted\n' "$("$LETHE" --version)" "$(dpkg-query -W -f '${Version}' nwipe 2>/dev/null || nwipe --version | awk '{print $3}')" "$nwipe_overhead"
printf '%-16s %-22s %8s %9s\n' device measurement GB/s CPU-s/GB

for cfg in "disk 4096" "disk 512" "tmpfs 4096" "tmpfs 512"; do
	set -- $cfg
	backing=$1 sector=$2
	size=$SIZE_MIB
	[ "$sector" = 512 ] && size=$SIZE_512_MIB
	if [ "$backing" = disk ]; then
		mkloop "$DISK_DIR" "$size" "$sector" --direct-io=on
	else
		mkloop "$SHM_DIR" "$size" "$sector"
	fi
	dev=$loopdev
	gb=$(python3 -c "print($size * 1048576 / 1e9)")
	# Warm-up: the first write to a fresh file pays for page allocation
	# (tmpfs) or block mapping (disk); no tool should be charged for it.
	dd if=/dev/zero of="$dev" bs=4M count=$((size / 4)) oflag=direct status=none
	declare -A r=() c=()
	for round in $(seq "$ROUNDS"); do
		# Interleave the tools so machine noise hits them alike.
		t=$(timed dd if=/dev/zero of="$dev" bs=4M count=$((size / 4)) oflag=direct); r[ddw]+="$(dd_rate) "; c[ddw]+="$(awk -v g="$gb" '{print $2/g}' <<<"$t") "
		rm -rf "$work/certs"
		t=$(timed "$LETHE" wipe --yes --key "$work/key/lethe.key" --cert-dir "$work/certs" --operator bench --organization bench --method random --verify off \
			--progress log --log-format json "$dev")
		r[lr]+="$(lethe_rate overwrite) "; c[lr]+="$(awk -v g="$gb" '{print $2/g}' <<<"$t") "
		t=$(timed "$LETHE" verify --cert "$work"/certs/*.cert.json --key "$work/key/lethe.pub" --progress log --log-format json "$dev")
		r[lvr]+="$(lethe_rate verify) "; c[lvr]+="$(awk -v g="$gb" '{print $2/g}' <<<"$t") "
		t=$(timed dd if="$dev" of=/dev/null bs=4M count=$((size / 4)) iflag=direct); r[ddr]+="$(dd_rate) "; c[ddr]+="$(awk -v g="$gb" '{print $2/g}' <<<"$t") "
		r[ddw4]+="$(ddpar write) "; r[ddr4]+="$(ddpar read) "
		t=$(timed "$LETHE" wipe --yes --key "$work/key/lethe.key" --cert-dir "$work/certs" --operator bench --organization bench --method zero --verify off \
			--progress log --log-format json "$dev")
		r[lz]+="$(lethe_rate overwrite) "; c[lz]+="$(awk -v g="$gb" '{print $2/g}' <<<"$t") "
		t=$(timed "$LETHE" verify --expect zero --progress log --log-format json "$dev")
		r[lvz]+="$(lethe_rate verify) "; c[lvz]+="$(awk -v g="$gb" '{print $2/g}' <<<"$t") "
		for m in zero random; do
			t=$(timed nwipe --nogui --autonuke --nowait --noblank --method=$m --verify=off "$dev")
			r[n$m]+="$(awk -v g="$gb" -v o="$nwipe_overhead" '{print g/($1-o)}' <<<"$t") "
			c[n$m]+="$(awk -v g="$gb" '{print $2/g}' <<<"$t") "
		done
	done
	name="$backing/$sector"
	line() { printf '%-16s %-22s %8.3f %9.3f\n' "$name" "$1" "$(median ${r[$2]})" "$(median ${c[$2]:-0})"; }
	line "dd write (raw)" ddw
	line "dd read (raw)" ddr
	printf '%-16s %-22s %8.3f %9s\n' "$name" "dd write x4 (raw)" "$(median ${r[ddw4]})" -
	printf '%-16s %-22s %8.3f %9s\n' "$name" "dd read x4 (raw)" "$(median ${r[ddr4]})" -
	line "lethe random write" lr
	line "lethe zero write" lz
	line "lethe random verify" lvr
	line "lethe zero verify" lvz
	line "nwipe random" nrandom
	line "nwipe zero" nzero
	ratio() { python3 -c "print('%.2f' % ($(median ${r[$1]}) / $(median ${r[$2]})))"; }
	printf '%-16s ratios: random/dd-write %s, zero/dd-write %s, random-verify/dd-read %s, zero-verify/dd-read %s, random/nwipe-random %s, zero/nwipe-zero %s\n' \
		"$name" "$(ratio lr ddw)" "$(ratio lz ddw)" "$(ratio lvr ddr)" "$(ratio lvz ddr)" "$(ratio lr nrandom)" "$(ratio lz nzero)"
	printf '%-16s against 4 parallel dd: random/dd-write-x4 %s, random-verify/dd-read-x4 %s\n' \
		"$name" "$(ratio lr ddw4)" "$(ratio lvr ddr4)"
	unset r c
	# Free each device's memory or disk before the next one is made, and
	# forget it so the exit trap cannot detach a loop number reused since.
	losetup -d "$dev"
	rm -f "${files[-1]}"
	unset 'loops[-1]' 'files[-1]'
done
