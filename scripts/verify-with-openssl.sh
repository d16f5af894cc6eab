#!/usr/bin/env bash
# Verify a lethe certificate without lethe: jq, base64, openssl and
# coreutils only (docs/certificate.md, "Checking a certificate without
# lethe", documents every step).
#
#   scripts/verify-with-openssl.sh [--device DEV] CERT.cert.json KEY.pub [KEY.pub...]
#
# 1. The file is at most 2 MiB, and neither the envelope nor the statement
#    has a duplicate key or two keys that differ only in ASCII case (jq
#    keeps the last of two duplicates; lethe refuses them, so that no two
#    readers see different content).
# 2. Every signature made by one of the given keys verifies: ed25519 over
#    DSSE's pre-authentication encoding (PAE)
#      "DSSEv1" SP len(payloadType) SP payloadType SP len(payload) SP payload
#    (lengths in decimal bytes, payload the base64-decoded statement), or,
#    for an ECDSA P-256 key (a TPM co-signature), ECDSA over SHA-256 of the
#    PAE, ASN.1 DER. At least one must verify; a signature whose key was not
#    given is listed as not checked.
# 3. The subject digest is SHA-256 of the RFC 8785 canonical JSON of
#    predicate.identity. `jq -cS` produces exactly that only when every
#    string is printable ASCII (U+0020-U+007E) and every number an integer
#    below 2^53; the script checks that first and otherwise says it cannot
#    check the digest (exit 3) rather than guess.
# 4. With --device DEV, for a host overwrite whose last pass was read back
#    in full, DEV (block device or image file) must have the certified size
#    and hold exactly the last pass's pattern, regenerated here: AES-128-CTR
#    with `openssl enc -aes-128-ctr -K KEY -iv IV` over zeros, or the
#    repeated bytes. Block devices are read with O_DIRECT (dd iflag=direct).
#
# Exit status: 0 every check passed; 1 a check failed; 2 usage; 3 a check
# could not be made with these tools.
set -euo pipefail

usage() { echo "usage: $0 [--device DEV] CERT KEY.pub [KEY.pub...]" >&2; exit 2; }
device=
if [ "${1:-}" = "--device" ]; then
	[ $# -ge 2 ] || usage
	device=$2
	shift 2
fi
[ $# -ge 2 ] || usage
cert=$1
shift
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
cannot() { echo "CANNOT CHECK: $*"; exit 3; }

# 1. Size, then strict JSON.
size=$(stat -c %s "$cert")
[ "$size" -le $((2 << 20)) ] || fail "$cert is $size bytes, more than the 2 MiB a certificate may have"

# strict FILE WHAT: no duplicate keys (jq's parsed tree keeps fewer leaves
# than its streaming parser emits when a key repeats), no keys that differ
# only in ASCII case, no non-ASCII keys (lethe's schema has none).
strict() {
	local streamed parsed
	streamed=$(jq -c --stream 'select(length == 2)' "$1" | wc -l)
	parsed=$(jq '[paths as $p | select(getpath($p) | (type != "object" and type != "array") or length == 0)] | length' "$1")
	[ "$streamed" -eq "$parsed" ] || fail "$2 has a duplicate key"
	jq -e '[paths | map(if type == "string" then ascii_downcase else . end)] | (unique | length) == length' "$1" >/dev/null ||
		fail "$2 has keys that differ only in case"
	jq -e '[paths | .[] | strings | test("^[ -~]*$")] | all' "$1" >/dev/null ||
		fail "$2 has a key that is not printable ASCII"
}
jq -e 'type == "object"' "$cert" >/dev/null 2>&1 || fail "$cert is not a JSON object"
strict "$cert" "the envelope"

type=$(jq -er .payloadType "$cert")
[ "$type" = "application/vnd.in-toto+json" ] || fail "payload type $type"
jq -er .payload "$cert" | base64 -d >"$tmp/payload" || fail "the payload is not base64"
jq -e 'type == "object"' "$tmp/payload" >/dev/null 2>&1 || fail "the statement is not a JSON object"
strict "$tmp/payload" "the statement"

# 2. Signatures.
{
	printf 'DSSEv1 %d %s %d ' "${#type}" "$type" "$(stat -c %s "$tmp/payload")"
	cat "$tmp/payload"
} >"$tmp/pae"
declare -A keyfile keykind
for pub in "$@"; do
	id=$(openssl pkey -pubin -in "$pub" -outform DER | sha256sum | cut -d' ' -f1)
	if openssl pkey -pubin -in "$pub" -noout -text | grep -q ED25519; then
		keykind[$id]=ed25519
	else
		keykind[$id]=ecdsa
	fi
	keyfile[$id]=$pub
done
nsig=$(jq -er '.signatures | length' "$cert")
[ "$nsig" -gt 0 ] || fail "the envelope has no signature"
verified=0
for i in $(seq 0 $((nsig - 1))); do
	keyid=$(jq -er ".signatures[$i].keyid" "$cert")
	jq -er ".signatures[$i].sig" "$cert" | base64 -d >"$tmp/sig" || fail "signature $i is not base64"
	pub=${keyfile[$keyid]:-}
	if [ -z "$pub" ]; then
		echo "note: signature $i by key $keyid not checked (no key given for it)"
		continue
	fi
	case ${keykind[$keyid]} in
	ed25519) ok() { openssl pkeyutl -verify -pubin -inkey "$pub" -rawin -in "$tmp/pae" -sigfile "$tmp/sig" >/dev/null 2>&1; } ;;
	ecdsa) ok() { openssl dgst -sha256 -verify "$pub" -signature "$tmp/sig" "$tmp/pae" >/dev/null 2>&1; } ;;
	esac
	ok || fail "signature $i by key $keyid ($pub) does not verify: the certificate was altered after signing"
	echo "signature $i: valid ${keykind[$keyid]} signature by $pub (key $keyid)"
	verified=$((verified + 1))
done
[ "$verified" -gt 0 ] || fail "no signature by any of the given keys ($*)"

# 3. Subject digest.
jq -e '[.predicate.identity | .. | strings | test("^[ -~]*$")] | all' "$tmp/payload" >/dev/null ||
	cannot "the identity holds characters outside printable ASCII, where jq -cS and RFC 8785 may differ: recompute the digest with an RFC 8785 implementation"
jq -e '[.predicate.identity | .. | numbers | (. == floor and (if . < 0 then -. else . end) < 9007199254740992)] | all' "$tmp/payload" >/dev/null ||
	cannot "the identity holds a number that is not an integer below 2^53"
want=$(jq -er '.subject[0].digest.sha256' "$tmp/payload")
got=$(jq -cS .predicate.identity "$tmp/payload" | tr -d '\n' | sha256sum | cut -d' ' -f1)
[ "$got" = "$want" ] || fail "subject digest $want does not match the identity in the certificate ($got)"
echo "subject digest: sha256 of the canonical identity matches ($got)"

summary=$(jq -r '.predicate | "\(.status) \(.media.path) \(.media.model // "-") \(.media.serial // "-") \(.sanitization.technique)"' "$tmp/payload")

# 4. Re-read the device.
if [ -n "$device" ]; then
	jq -e '.predicate.sanitization.technique == "overwrite" and .predicate.verification.scope == "full" and .predicate.verification.result == "passed"' "$tmp/payload" >/dev/null ||
		cannot "--device: only a host overwrite whose last pass was read back in full is re-read here (technique $(jq -r .predicate.sanitization.technique "$tmp/payload"), verification $(jq -r .predicate.verification.scope "$tmp/payload"))"
	want=$(jq -er .predicate.identity.sizeBytes "$tmp/payload")
	if [ -b "$device" ]; then
		have=$(blockdev --getsize64 "$device")
		read_dev() { dd if="$device" bs=4M iflag=direct status=none; }
	else
		have=$(stat -c %s "$device")
		read_dev() { cat "$device"; }
	fi
	[ "$have" = "$want" ] || fail "--device $device has $have bytes, the certificate's subject $want"
	kind=$(jq -er '.predicate.sanitization.passes[-1].pattern.kind' "$tmp/payload")
	case $kind in
	aes-128-ctr)
		key=$(jq -er '.predicate.sanitization.passes[-1].pattern.key' "$tmp/payload")
		iv=$(jq -er '.predicate.sanitization.passes[-1].pattern.iv' "$tmp/payload")
		pattern() { openssl enc -aes-128-ctr -K "$key" -iv "$iv" </dev/zero 2>/dev/null | head -c "$want"; } ;;
	bytes)
		hex=$(jq -er '.predicate.sanitization.passes[-1].pattern.bytes' "$tmp/payload")
		[[ $hex =~ ^([0-9a-fA-F]{2})+$ ]] || fail "pattern bytes $hex are not hex"
		# One block of whole repetitions (doubled up to at least 1 MiB),
		# repeated: the pattern's phase stays tied to offset 0.
		printf "$(sed 's/../\\x&/g' <<<"$hex")" >"$tmp/unit"
		while [ "$(stat -c %s "$tmp/unit")" -lt $((1 << 20)) ]; do
			cat "$tmp/unit" "$tmp/unit" >"$tmp/u2"
			mv "$tmp/u2" "$tmp/unit"
		done
		pattern() { while cat "$tmp/unit"; do :; done | head -c "$want"; } ;;
	*) cannot "pattern kind $kind" ;;
	esac
	if ! out=$(cmp <(pattern) <(read_dev) 2>&1); then
		fail "--device $device does not hold the last pass's pattern: ${out#*: }"
	fi
	echo "device: every one of the $want bytes of $device equals the last pass's pattern"
fi
echo "OK: $summary"
