// Package sign holds lethe's keys and signed envelopes: ed25519 keys in PEM
// (PKCS#8 private, PKIX public, so that openssl reads them), key IDs (the
// hex SHA-256 of the PKIX DER public key), and DSSE envelopes
// (https://github.com/secure-systems-lab/dsse) signed over DSSE's
// pre-authentication encoding. It knows bytes, not certificates: package
// attest puts certificates in envelopes, the audit store its log entries
// and receipts, the agent its signed configuration.
//
// Envelopes are decoded strictly: a document with duplicate or case-variant
// keys, invalid UTF-8 or trailing data is refused before any signature is
// checked, so that no two readers can see different payloads in one file.
package sign
