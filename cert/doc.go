// Package cert is the lethe certificate of sanitization as a contract: every
// type that appears in a certificate, the rules a certificate must satisfy
// (Validate), the subject digest (SHA-256 of the RFC 8785 canonical JSON of
// the drive identity), and strict decoding of a signed payload.
//
// Certificates are kept for years, long after the code that wrote them has
// changed, so this package is the one place their format is defined. It
// uses the standard library only and imports nothing else of lethe: the
// wipe engine and device discovery fill these types in, the verifier
// (package attest), the audit store and the PDF renderer read them.
//
// Integrators verify a certificate file with package attest, which checks
// the DSSE signatures (package sign) and then calls Decode and Validate
// from this package. docs/certificate.md documents every field and the
// version policy; testdata/ holds certificates written by every schema
// version, which must verify forever.
package cert
