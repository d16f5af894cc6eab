#!/usr/bin/env bash
# The lethe demo: a scratch disk (a loop device when run as root, a disk
# image file otherwise) gets sample customer data, is wiped with lethe's
# default method, verified, and certified. The signed certificate and the
# public key that verifies it stay in demo-output/; the scratch disk is
# removed.
set -euo pipefail

LETHE=${LETHE:-./bin/lethe}
OUT=${DEMO_OUT:-demo-output}
[ -x "$LETHE" ] || { echo "demo: $LETHE missing; run make build" >&2; exit 2; }

work=$(mktemp -d /tmp/lethe-demo.XXXXXX)
dev=""
loop=""
cleanup() {
	if [ -n "$loop" ]; then losetup -d "$loop" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "1. A scratch disk"
truncate -s 64M "$work/disk.img"
if [ "$(id -u)" = 0 ] && command -v losetup >/dev/null && loop=$(losetup -f --show "$work/disk.img" 2>/dev/null); then
	dev=$loop
	echo "loop device $dev (64 MiB), backed by $work/disk.img"
else
	loop=""
	dev=$work/disk.img
	echo "not root: using the disk image file $dev (64 MiB) directly"
fi

step "2. Sample customer data written across the disk"
secret="CONFIDENTIAL customer record: account 4711, card 4000-1234-5678-9010"
for off in 0 1048576 33554432 67108352; do
	printf '%s' "$secret" | dd of="$dev" bs=1 seek="$off" conv=notrunc status=none
done
sync
printf 'copies of the record on the disk: '
grep -a -o "CONFIDENTIAL customer record" "$dev" | wc -l

step "3. A fresh signing key for this run"
# Every demo run makes its own key: a demo key must never sign anything
# that matters, so none is kept between runs or in the repository.
mkdir -p "$OUT"
rm -f "$OUT/lethe.key" "$OUT/lethe.pub"
"$LETHE" keygen --out "$OUT"

step "4. What lethe will do (lethe plan writes nothing)"
"$LETHE" plan "$dev"

step "5. Wipe: overwrite, read back, sign"
"$LETHE" wipe --yes --progress log --log-format text --log-level warn \
	--key "$OUT/lethe.key" --cert-dir "$OUT/certificates" \
	--operator "${USER:-demo}" --organization "lethe demo" --site "$(hostname)" "$dev"
cert=$(ls -t "$OUT"/certificates/*.cert.json | head -n 1)

step "6. Independent check: lethe verify reads the disk again against the certificate"
"$LETHE" verify --progress none --cert "$cert" --key "$OUT/lethe.pub" "$dev"

step "7. The sample data is gone"
n=$(grep -a -c "CONFIDENTIAL customer record" "$dev" || true)
echo "copies of the record on the disk: $n"
[ "$n" = 0 ] || { echo "demo: the data is still there" >&2; exit 1; }

step "8. The signed certificate verifies, and reads:"
"$LETHE" cert verify --key "$OUT/lethe.pub" "$cert"
"$LETHE" cert show --key "$OUT/lethe.pub" "$cert"

step "Done"
echo "certificate: $cert"
echo "public key:  $OUT/lethe.pub   (check it yourself: $LETHE cert verify --key $OUT/lethe.pub $cert)"
echo "the scratch disk has been removed"
