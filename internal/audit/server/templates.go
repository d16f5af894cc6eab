package server

import (
	"html/template"
	"time"

	"github.com/lethe-project/lethe/internal/safetext"
)

var templates = template.Must(template.New("").Funcs(template.FuncMap{
	// safe shows certificate text with control characters and
	// bidirectional overrides escaped (\n, \x1b, \u202e): HTML escaping
	// alone lets a U+202E reorder what the auditor reads.
	"safe": safetext.Escape,
	"ts":   func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05Z") },
	"day":  func(t time.Time) string { return t.UTC().Format("2006-01-02") },
	"short": func(s string) string {
		if len(s) > 16 {
			return s[:16]
		}
		return s
	},
	"locked": func(u any) bool {
		type l interface{ Locked(time.Time) bool }
		x, ok := u.(l)
		return ok && x.Locked(time.Now())
	},
}).Parse(`
{{define "head"}}<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{{.Title}} — lethe audit</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font-family:system-ui,sans-serif;margin:0;color:#222;background:#fafafa}
header{background:#1d2b3a;color:#fff;padding:.6em 1.2em;display:flex;gap:1.2em;align-items:center}
header a{color:#cfe3ff;text-decoration:none} header .me{margin-left:auto}
main{padding:1em 1.5em;max-width:1200px}
table{border-collapse:collapse;width:100%;background:#fff} td,th{border:1px solid #ddd;padding:.3em .5em;font-size:.9em;text-align:left;vertical-align:top}
th{background:#eef2f6} .ok{color:#1e7a3c;font-weight:600} .bad{color:#b3261e;font-weight:600} .pending{color:#8a6d00}
.ERASED{color:#1e7a3c;font-weight:700} .FAILED,.ABORTED{color:#b3261e;font-weight:700} .PARTIAL{color:#8a6d00;font-weight:700}
form.inline{display:inline} input,select,textarea{font:inherit;padding:.25em} fieldset{border:1px solid #ccc;margin:.6em 0;background:#fff}
.msg{background:#fff7d6;border:1px solid #e6d38a;padding:.5em;margin:.5em 0} .err{background:#fde7e7;border-color:#e6a1a1}
pre{background:#fff;border:1px solid #ddd;padding:.6em;overflow:auto;font-size:.8em} code{word-break:break-all}
</style></head><body>
<header><strong>lethe audit</strong>{{if .Me}}<a href="/">Certificates</a>{{if or (eq .Role "auditor") (eq .Role "admin")}}<a href="/events">Audit events</a>{{end}}{{if eq .Role "admin"}}<a href="/admin">Admin</a>{{end}}
<span class="me"><a href="/account">{{.User}}</a> ({{.Role}})</span>
<form class="inline" method="post" action="/logout"><input type="hidden" name="csrf" value="{{.CSRF}}"><button id="logout">Log out</button></form>{{end}}</header><main>
{{end}}
{{define "foot"}}</main></body></html>{{end}}

{{define "message"}}{{template "head" .}}<h1>{{.Title}}</h1><p class="msg err">{{.Message}}</p>{{template "foot"}}{{end}}

{{define "login"}}{{template "head" .}}<h1>Log in</h1>
{{if .Error}}<p class="msg err" id="login-error">{{.Error}}</p>{{end}}
<form method="post" action="/login" id="login-form"><input type="hidden" name="next" value="{{.Next}}">
<p><label>User <input name="user" id="user" value="{{.Name}}" autocomplete="username" required></label></p>
<p><label>Password <input name="password" id="password" type="password" autocomplete="current-password" required></label></p>
<p><label>One-time code <input name="totp" id="totp" inputmode="numeric" autocomplete="one-time-code" size="8"></label> (required for admins and auditors)</p>
<p><button id="login-submit">Log in</button></p></form>{{template "foot"}}{{end}}

{{define "search"}}{{template "head" .}}<h1>Certificates</h1>
<form method="get" action="/" id="search-form"><fieldset><legend>Search</legend>
<label>Drive serial <input name="serial" id="serial" value="{{.Q.Get "serial"}}"></label>
<label>WWN <input name="wwn" id="wwn" value="{{.Q.Get "wwn"}}"></label>
<label>Host serial <input name="host" id="host" value="{{.Q.Get "host"}}"></label>
<label>Job <input name="job" id="job" value="{{.Q.Get "job"}}"></label><br>
<label>From <input type="date" name="from" id="from" value="{{.Q.Get "from"}}"></label>
<label>To <input type="date" name="to" id="to" value="{{.Q.Get "to"}}"></label>
<label>Status <select name="status" id="status"><option value="">any</option>{{$s := .Q.Get "status"}}
<option {{if eq $s "ERASED"}}selected{{end}}>ERASED</option><option {{if eq $s "PARTIAL"}}selected{{end}}>PARTIAL</option><option {{if eq $s "FAILED"}}selected{{end}}>FAILED</option><option {{if eq $s "ABORTED"}}selected{{end}}>ABORTED</option></select></label>
<label>Validation <select name="validation" id="validation">{{$v := .Q.Get "validation"}}<option value="">any</option><option {{if eq $v "pending"}}selected{{end}}>pending</option><option {{if eq $v "approved"}}selected{{end}}>approved</option><option {{if eq $v "rejected"}}selected{{end}}>rejected</option></select></label>
<label>Text <input name="q" id="q" value="{{.Q.Get "q"}}"></label>
<button id="search-submit">Search</button></fieldset></form>
{{if .Error}}<p class="msg err">{{.Error}}</p>{{end}}
<p><span id="total">{{.Total}}</span> certificate(s). Export: <a id="export-csv" href="{{.CSV}}">CSV</a> · <a id="export-json" href="{{.JSON}}">JSON</a></p>
<table id="results"><tr><th>#</th><th>Status</th><th>Drive</th><th>Serial</th><th>WWN</th><th>Host serial</th><th>Job</th><th>Ended</th><th>Category</th><th>Validation</th></tr>
{{range .Rows}}<tr><td>{{.LogIndex}}</td><td class="{{.Status}}">{{.Status}}</td><td><a class="cert-link" href="/certificates/{{.CertificateID}}">{{safe .DriveModel}}</a></td>
<td>{{safe .DriveSerial}}</td><td>{{safe .WWN}}</td><td>{{safe .HostSerial}}</td><td>{{safe .Job}}</td><td>{{ts .Ended}}</td><td>{{.Category}}</td><td class="{{.Validation}}">{{.Validation}}</td></tr>{{end}}
</table>{{template "foot"}}{{end}}

{{define "certificate"}}{{template "head" .}}{{$c := .C}}<h1>Certificate <code>{{$c.CertificateID}}</code></h1>
{{if .Msg}}<p class="msg" id="msg">{{.Msg}}</p>{{end}}
<table><tr><th>Status</th><td class="{{$c.Status}}" id="cert-status">{{$c.Status}} — {{safe $c.Statement.Predicate.StatusReason}}</td></tr>
<tr><th>Drive</th><td>{{safe $c.DriveModel}} serial <b id="cert-serial">{{safe $c.DriveSerial}}</b> {{if $c.WWN}}WWN {{safe $c.WWN}}{{end}}</td></tr>
<tr><th>Signature</th><td id="sig-status" class="{{if .Check.SignatureOK}}ok{{else}}bad{{end}}">{{if .Check.SignatureOK}}VALID{{else}}INVALID{{end}}: {{.Check.SignatureNote}}</td></tr>
<tr><th>Inclusion proof</th><td id="inclusion-status" class="{{if .Check.InclusionOK}}ok{{else}}bad{{end}}">{{if .Check.InclusionOK}}VERIFIED{{else}}FAILED{{end}}: {{.Check.InclusionNote}}</td></tr>
<tr><th>Log entry</th><td>{{$c.LogIndex}}, received {{ts $c.Received}}, signer {{$c.SignerKind}} key <code>{{short $c.SignerKeyID}}</code></td></tr>
<tr><th>Validation</th><td id="validation-status" class="{{$c.Validation}}">{{.Validation}}</td></tr>
<tr><th>Downloads</th><td><a id="pdf-link" href="/certificates/{{$c.CertificateID}}/pdf">PDF</a> · <a href="/v1/certificates/{{$c.CertificateID}}/envelope">certificate (JSON)</a> · <a href="/v1/certificates/{{$c.CertificateID}}/receipt">receipt</a></td></tr></table>
{{if .CanValidate}}<form method="post" action="/certificates/{{$c.CertificateID}}/validate" id="validate-form"><fieldset><legend>Validation (NIST SP 800-88 Rev. 2)</legend>
<input type="hidden" name="csrf" value="{{.CSRF}}">
<label><input type="radio" name="decision" value="approved" id="approve" checked> Approve: the evidence shows the media was sanitized as stated</label><br>
<label><input type="radio" name="decision" value="rejected" id="reject"> Reject</label><br>
<label>Comment <input name="comment" id="comment" size="60"></label> <button id="validate-submit">Record decision</button></fieldset></form>{{end}}
{{if $c.Validations}}<h2>Validation history</h2><table><tr><th>Entry</th><th>Time</th><th>Auditor</th><th>Decision</th><th>Comment</th></tr>
{{range $c.Validations}}<tr><td>{{.LogIndex}}</td><td>{{ts .Time}}</td><td>{{.Auditor}}</td><td class="{{.Decision}}">{{.Decision}}</td><td>{{safe .Comment}}</td></tr>{{end}}</table>{{end}}
<h2>Every field</h2><table id="fields">{{range .Fields}}<tr><th>{{safe .Key}}</th><td><code>{{safe .Value}}</code></td></tr>{{end}}</table>
<h2>Signed envelope</h2><pre>{{.Envelope}}</pre>
<h2>Checkpoint at receipt</h2><pre>{{$c.Receipt.Checkpoint}}</pre>
{{template "foot"}}{{end}}

{{define "events"}}{{template "head" .}}<h1>Audit events</h1>
<form method="get"><label>Type prefix <input name="type" value="{{.Type}}"></label> <button>Filter</button> <a href="/v1/events?format=csv&amp;type={{.Type}}">CSV</a></form>
<table id="events"><tr><th>Entry</th><th>Date</th><th>Time (UTC)</th><th>Type</th><th>Subject</th><th>Object</th><th>Result</th><th>Detail</th><th>From</th></tr>
{{range .Events}}<tr><td>{{.LogIndex}}</td><td>{{day .Time}}</td><td>{{.Time.Format "15:04:05"}}</td><td>{{.Type}}</td><td>{{.Subject}}</td><td>{{.Object}}</td><td>{{.Result}}</td><td>{{.Detail}}</td><td>{{.Remote}}</td></tr>{{end}}</table>{{template "foot"}}{{end}}

{{define "admin"}}{{template "head" .}}<h1>Administration</h1>
{{if .Msg}}<p class="msg" id="msg">{{.Msg}} {{if .Secret}}<code id="secret">{{.Secret}}</code>{{end}}</p>{{end}}
<h2>Users</h2><table><tr><th>Name</th><th>Role</th><th>State</th><th></th></tr>
{{range .Users}}<tr><td>{{.Name}}</td><td>{{.Role}}</td><td>{{if .Disabled}}disabled{{else if locked .}}locked{{else}}active{{end}} ({{.Failed}} failed)</td>
<td><form class="inline" method="post" action="/admin/unlock"><input type="hidden" name="csrf" value="{{$.CSRF}}"><input type="hidden" name="name" value="{{.Name}}"><button>Unlock</button></form></td></tr>{{end}}</table>
<form method="post" action="/admin/user"><fieldset><legend>New user</legend><input type="hidden" name="csrf" value="{{.CSRF}}">
<input name="name" placeholder="name" required> <input name="password" type="password" placeholder="password (8+ chars, 3 kinds)" required>
<select name="role"><option>operator</option><option>auditor</option><option>admin</option></select> <button>Create</button></fieldset></form>
<form method="post" action="/admin/enrollment-token"><fieldset><legend>Enrollment token for a job (boot agents register their key with it)</legend><input type="hidden" name="csrf" value="{{.CSRF}}">
<input name="job" placeholder="job" required> <input name="ttl" value="1h" size="6"> <button>Mint</button></fieldset></form>
<form method="post" action="/admin/api-token"><fieldset><legend>API token for a machine</legend><input type="hidden" name="csrf" value="{{.CSRF}}">
<input name="user" placeholder="user" required> <input name="name" placeholder="token name" required> <button>Create</button></fieldset></form>
<h2>API tokens</h2><table><tr><th>ID</th><th>Name</th><th>User</th><th>Created</th><th>State</th></tr>{{range .Tokens}}<tr><td>{{.ID}}</td><td>{{.Name}}</td><td>{{.User}}</td><td>{{ts .Created}}</td><td>{{if .Revoked}}revoked{{else}}active{{end}}</td></tr>{{end}}</table>
<h2>Trusted station keys</h2><table><tr><th>Key ID</th><th>Name</th><th>Added by</th><th>State</th></tr>{{range .Keys}}<tr><td><code>{{short .KeyID}}</code></td><td>{{.Name}}</td><td>{{.AddedBy}}</td><td>{{if .Revoked}}revoked{{else}}trusted{{end}}</td></tr>{{end}}</table>
{{template "foot"}}{{end}}

{{define "account"}}{{template "head" .}}<h1>Account {{.User}}</h1>{{if .Msg}}<p class="msg">{{.Msg}}</p>{{end}}
<form method="post" action="/account/password"><fieldset><legend>Change password</legend><input type="hidden" name="csrf" value="{{.CSRF}}">
<p><input name="old" type="password" placeholder="current password" required></p><p><input name="totp" placeholder="one-time code (admins, auditors)"></p>
<p><input name="new" type="password" placeholder="new password" required></p><button>Change</button></fieldset></form>{{template "foot"}}{{end}}
`))
