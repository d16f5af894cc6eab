package entry

// Entry types of passkeys (WebAuthn credentials).
const (
	TypePasskeyRegistered = "passkey.registered"
	TypePasskeyRevoked    = "passkey.revoked"
)

// Passkey records a WebAuthn credential registered to an account, or its
// revocation. The registration keeps what the authenticator sent (the
// attestation object and client data), so anyone can re-check that the
// public key came out of a registration ceremony for this relying party,
// and later validations are checked against PublicKey.
type Passkey struct {
	User         string `json:"user"`
	CredentialID []byte `json:"credentialId"`
	// PublicKey is the credential's COSE_Key (RFC 9052 §7) as the
	// authenticator returned it in its attested credential data.
	PublicKey []byte `json:"publicKey,omitempty"`
	Algorithm int64  `json:"alg,omitempty"` // COSE algorithm, e.g. -7 (ES256)
	AAGUID    []byte `json:"aaguid,omitempty"`
	Name      string `json:"name,omitempty"`
	RPID      string `json:"rpId,omitempty"`
	// AttestationObject and ClientDataJSON are the registration response
	// (WebAuthn §7.1), byte for byte.
	AttestationObject []byte `json:"attestationObject,omitempty"`
	ClientDataJSON    []byte `json:"clientDataJSON,omitempty"`
	Revoked           bool   `json:"revoked,omitempty"`
}

// SignedValidation is an auditor's decision signed by their passkey:
// Statement is the exact bytes the assertion's challenge commits to
// (challenge = SHA-256(Statement)); PasskeyIndex is the log entry that
// registered the credential that signed.
type SignedValidation struct {
	Statement    []byte     `json:"statement"`
	Assertion    *Assertion `json:"assertion"`
	PasskeyIndex uint64     `json:"passkeyIndex"`
}

// Assertion is a WebAuthn authentication response (WebAuthn §5.2.2),
// byte for byte: the signature is over AuthenticatorData ||
// SHA-256(ClientDataJSON).
type Assertion struct {
	CredentialID      []byte `json:"credentialId"`
	AuthenticatorData []byte `json:"authenticatorData"`
	ClientDataJSON    []byte `json:"clientDataJSON"`
	Signature         []byte `json:"signature"`
	UserHandle        []byte `json:"userHandle,omitempty"`
}
