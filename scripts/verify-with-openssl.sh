#!/usr/bin/env bash
# Verify a lethe certificate without lethe: jq, base64 and openssl only.
#
#   scripts/verify-with-openssl.sh CERT.cert.json lethe.pub
#
# A certificate is a DSSE envelope. The signature is ed25519 over DSSE's
# pre-authentication encoding (PAE):
#   "DSSEv1" SP len(payloadType) SP payloadType SP len(payload) SP payload
# with lengths in decimal bytes and payload the base64-decoded statement.
set -euo pipefail
cert=$1 pub=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

type=$(jq -er .payloadType "$cert")
jq -er .payload "$cert" | base64 -d >"$tmp/payload"
jq -er '.signatures[0].sig' "$cert" | base64 -d >"$tmp/sig"
keyid=$(jq -er '.signatures[0].keyid' "$cert")

# The key id is the SHA-256 of the public key's DER (SubjectPublicKeyInfo).
want=$(openssl pkey -pubin -in "$pub" -outform DER | sha256sum | cut -d' ' -f1)
[ "$keyid" = "$want" ] || { echo "FAIL: signed by key $keyid, not by $pub ($want)"; exit 1; }
[ "$type" = "application/vnd.in-toto+json" ] || { echo "FAIL: payload type $type"; exit 1; }

{
	printf 'DSSEv1 %d %s %d ' "${#type}" "$type" "$(stat -c %s "$tmp/payload")"
	cat "$tmp/payload"
} >"$tmp/pae"
if openssl pkeyutl -verify -pubin -inkey "$pub" -rawin -in "$tmp/pae" -sigfile "$tmp/sig" >/dev/null; then
	echo "OK: $(jq -r '.predicate | "\(.status) \(.media.path) \(.media.model // "-") \(.media.serial // "-") \(.sanitization.technique)"' "$tmp/payload")"
else
	echo "FAIL: signature does not verify"
	exit 1
fi
