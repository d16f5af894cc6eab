package wipe

import "github.com/lethe-project/lethe/cert"

// The technique table is part of the certificate schema (package cert):
// a certificate's category must not exceed what the table gives its
// technique. These names keep the planner's code short.
type (
	Category    = cert.Category
	TechniqueID = cert.TechniqueID
	Technique   = cert.Technique
)

// Categories and technique IDs (see package cert).
const (
	CategoryNone  = cert.CategoryNone
	CategoryClear = cert.CategoryClear
	CategoryPurge = cert.CategoryPurge

	TechOverwrite           = cert.TechOverwrite
	TechNVMeSanitizeCrypto  = cert.TechNVMeSanitizeCrypto
	TechNVMeSanitizeBlock   = cert.TechNVMeSanitizeBlock
	TechNVMeSanitizeOverw   = cert.TechNVMeSanitizeOverw
	TechNVMeFormatCrypto    = cert.TechNVMeFormatCrypto
	TechNVMeFormatUserData  = cert.TechNVMeFormatUserData
	TechNVMeFormatNoErase   = cert.TechNVMeFormatNoErase
	TechATASanitizeCrypto   = cert.TechATASanitizeCrypto
	TechATASanitizeBlock    = cert.TechATASanitizeBlock
	TechATASanitizeOverw    = cert.TechATASanitizeOverw
	TechATASecurityEnhanced = cert.TechATASecurityEnhanced
	TechATASecurityNormal   = cert.TechATASecurityNormal
	TechSCSISanitizeCrypto  = cert.TechSCSISanitizeCrypto
	TechSCSISanitizeBlock   = cert.TechSCSISanitizeBlock
	TechSCSISanitizeOverw   = cert.TechSCSISanitizeOverw
	TechSCSIFormatUnit      = cert.TechSCSIFormatUnit
	TechDiscard             = cert.TechDiscard
)

// LookupTechnique returns the table row for id.
func LookupTechnique(id TechniqueID) (Technique, bool) { return cert.LookupTechnique(id) }

// Techniques returns a copy of the reviewed table.
func Techniques() []Technique { return cert.Techniques() }
