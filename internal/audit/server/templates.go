package server

import (
	"html/template"
	"strings"
	"time"
)

var templates = template.Must(template.New("").Funcs(template.FuncMap{
	"ts":  func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05Z") },
	"day": func(t time.Time) string { return t.UTC().Format("2006-01-02") },
	"hms": func(t time.Time) string { return t.UTC().Format("15:04:05") },
	"ago": ago,
	"short": func(s string) string {
		if len(s) > 16 {
			return s[:16]
		}
		return s
	},
	"upper": strings.ToUpper,
	"split": strings.Fields,
	"zero":  func(t time.Time) bool { return t.IsZero() },
	"past":  func(t time.Time) bool { return !t.IsZero() && time.Now().After(t) },
}).Parse(`
{{define "head"}}<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{{.Title}} — lethe audit</title>
<meta name="viewport" content="width=device-width, initial-scale=1">{{if .CSRF}}<meta name="csrf" content="{{.CSRF}}">{{end}}
<style>
*{box-sizing:border-box}
body{font-family:system-ui,sans-serif;margin:0;color:#222;background:#f6f7f9;font-size:15px}
header{background:#1d2b3a;color:#fff;padding:.5em 1.2em;display:flex;gap:1.1em;align-items:center;flex-wrap:wrap}
header a{color:#cfe3ff;text-decoration:none} header a:hover{text-decoration:underline} header .me{margin-left:auto}
main{padding:1em 1.5em;max-width:1240px}
h1{font-size:1.45em;margin:.3em 0 .5em} h2{font-size:1.15em;margin:1.2em 0 .4em}
table{border-collapse:collapse;width:100%;background:#fff}
td,th{border:1px solid #dde1e6;padding:.3em .5em;font-size:.88em;text-align:left;vertical-align:top;overflow-wrap:anywhere}
th{background:#eef2f6;font-weight:600} th a{color:#1d2b3a;text-decoration:none}
table.kv th{width:14em}
.ok{color:#1e7a3c;font-weight:600} .bad{color:#b3261e;font-weight:600} .pending{color:#8a6d00} .approved{color:#1e7a3c} .rejected{color:#b3261e}
.ERASED{color:#1e7a3c;font-weight:700} .FAILED,.ABORTED{color:#b3261e;font-weight:700} .PARTIAL{color:#8a6d00;font-weight:700}
form.inline{display:inline;margin:0} input,select,textarea,button{font:inherit;padding:.2em .35em} fieldset{border:1px solid #ccd;margin:.6em 0;background:#fff}
.msg{background:#fff7d6;border:1px solid #e6d38a;padding:.5em .7em;margin:.5em 0} .err{background:#fde7e7;border-color:#e6a1a1}
pre{background:#fff;border:1px solid #ddd;padding:.6em;overflow:auto;font-size:.8em;max-height:40em} code{overflow-wrap:anywhere}
.verdict{border-left:.45em solid #888;background:#fff;padding:.6em 1em;margin:.6em 0;font-size:1.05em}
.verdict.ERASED{border-color:#1e7a3c;color:#222;font-weight:400} .verdict.FAILED,.verdict.ABORTED{border-color:#b3261e;color:#222;font-weight:400} .verdict.PARTIAL{border-color:#c79a00;color:#222;font-weight:400}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:0 1.2em} .grid>div{min-width:0}
.pager{margin:.5em 0;display:flex;gap:1em;align-items:center;flex-wrap:wrap} .pager a.cur{font-weight:700;text-decoration:none;color:#222}
.muted{color:#667} .small{font-size:.85em} details{margin:.6em 0} summary{cursor:pointer;font-weight:600}
.filters label{display:inline-block;margin:.15em .6em .15em 0}
.secret{background:#fff;border:2px dashed #8a6d00;padding:.6em;margin:.5em 0} .secret code{font-size:1.1em}
nav.actions form{display:inline}
</style></head><body>
<header><strong>lethe audit</strong>{{if .Me}}<a href="/">Certificates</a><a href="/hosts">Hosts</a>{{if or (eq .Role "auditor") (eq .Role "admin")}}<a href="/events">Audit events</a>{{end}}{{if eq .Role "admin"}}<a href="/admin">Admin</a>{{end}}
<span class="me"><a href="/account" id="account-link">{{.User}}</a> ({{.Role}})</span>
<form class="inline" method="post" action="/logout"><input type="hidden" name="csrf" value="{{.CSRF}}"><button id="logout">Log out</button></form>{{end}}</header><main>
{{end}}
{{define "foot"}}</main><script src="/static/passkey.js"></script></body></html>{{end}}

{{define "pager"}}<div class="pager">{{if .Total}}<span>{{.From}}–{{.To}} of {{.Total}}</span>{{end}}
{{if .PrevURL}}<a href="{{.PrevURL}}" id="prev-page">‹ previous</a>{{end}}{{if .NextURL}}<a href="{{.NextURL}}" id="next-page">next ›</a>{{end}}
<span class="muted">per page:{{range .Sizes}} <a href="{{.URL}}" {{if .Current}}class="cur"{{end}}>{{.Label}}</a>{{end}}</span></div>{{end}}

{{define "message"}}{{template "head" .}}<h1>{{.Title}}</h1><p class="msg err">{{.Message}}</p>{{template "foot"}}{{end}}

{{define "login"}}{{template "head" .}}<h1>Log in</h1>
{{if .Error}}<p class="msg err" id="login-error">{{.Error}}</p>{{end}}<p id="login-msg" hidden></p>
<form method="post" action="/login" id="login-form"><input type="hidden" name="next" value="{{.Next}}">
<input type="hidden" name="ceremony" id="ceremony"><input type="hidden" name="assertion" id="assertion">
<p><label>User <input name="user" id="user" value="{{.Name}}" autocomplete="username" required></label></p>
<p><label>Password <input name="password" id="password" type="password" autocomplete="current-password" required></label></p>
<fieldset><legend>Second factor (admins and auditors)</legend>
<p><label>One-time code <input name="totp" id="totp" inputmode="numeric" autocomplete="one-time-code" size="8"></label>
<button id="login-submit">Log in</button></p>
{{if .Passkeys}}<p>or <button type="button" id="login-passkey">Log in with a passkey or security key</button></p>{{end}}</fieldset>
<p class="muted small">Operators log in with the password alone (leave the code empty).</p></form>{{template "foot"}}{{end}}

{{define "search"}}{{template "head" .}}<h1>Certificates</h1>
<form method="get" action="/" id="search-form" class="filters"><fieldset><legend>Find certificates</legend>
<label>Text <input name="q" id="q" value="{{.Q.Get "q"}}" placeholder="serial, WWN, host, job, ID, model" size="28"></label>
<label>Drive serial <input name="serial" id="serial" value="{{.Q.Get "serial"}}" size="14"></label>
<label>WWN / EUI <input name="wwn" id="wwn" value="{{.Q.Get "wwn"}}" size="14"></label>
<label>Host serial <input name="host" id="host" value="{{.Q.Get "host"}}" size="12"></label><br>
<label>Job <input name="job" id="job" value="{{.Q.Get "job"}}" size="10"></label>
<label>Site <input name="site" id="site" value="{{.Q.Get "site"}}" size="8"></label>
<label>Status <select name="status" id="status"><option value="">any</option>{{$s := .Q.Get "status"}}
<option {{if eq $s "ERASED"}}selected{{end}}>ERASED</option><option {{if eq $s "PARTIAL"}}selected{{end}}>PARTIAL</option><option {{if eq $s "FAILED"}}selected{{end}}>FAILED</option><option {{if eq $s "ABORTED"}}selected{{end}}>ABORTED</option></select></label>
<label>Validation <select name="validation" id="validation">{{$v := .Q.Get "validation"}}<option value="">any</option><option {{if eq $v "pending"}}selected{{end}}>pending</option><option {{if eq $v "approved"}}selected{{end}}>approved</option><option {{if eq $v "rejected"}}selected{{end}}>rejected</option></select></label>
<label>Ended from <input type="date" name="from" id="from" value="{{.Q.Get "from"}}"></label>
<label>to <input type="date" name="to" id="to" value="{{.Q.Get "to"}}"></label>
<button id="search-submit">Search</button> <a href="/">clear</a></fieldset></form>
{{if .Error}}<p class="msg err">{{.Error}}</p>{{end}}
<p><span id="total">{{.Total}}</span> certificate(s). Export all matches: <a id="export-csv" href="{{.CSV}}">CSV</a> · <a id="export-json" href="{{.JSON}}">JSON</a> (every NIST SP 800-88 Appendix G field)</p>
{{with .Pager}}{{template "pager" .}}{{end}}
{{$h := .Sort}}<table id="results"><tr>{{range $k := "received status model serial host job site ended category validation" | split}}{{$l := index $h $k}}<th><a href="{{$l.URL}}">{{$l.Label}}{{$l.Mark}}</a></th>{{end}}<th>Certificate</th></tr>
{{range .Rows}}<tr><td>{{.LogIndex}}</td><td class="{{.Status}}">{{.Status}}</td>
<td><a class="cert-link" href="/certificates/{{.CertificateID}}">{{if .DriveModel}}{{.DriveModel}}{{else if .Subject}}{{.Subject}}{{else}}(no model){{end}}</a></td>
<td>{{if .DriveSerial}}{{.DriveSerial}}{{else if .WWN}}<span title="no serial: WWN / EUI">{{.WWN}}</span>{{else}}<span class="muted">none</span>{{end}}</td>
<td>{{if .HostSerial}}<a href="/?host={{.HostSerial}}">{{.HostSerial}}</a>{{end}}{{if .Hostname}} <span class="muted small">{{.Hostname}}</span>{{end}}</td>
<td>{{if .Job}}<a href="/?job={{.Job}}">{{.Job}}</a>{{end}}</td><td>{{.Site}}</td><td>{{ts .Ended}}</td><td>{{.Category}}</td><td class="{{.Validation}}">{{.Validation}}{{if .ValidatedBy}} <span class="muted small">by {{.ValidatedBy}}</span>{{end}}</td>
<td><a class="id-link" href="/certificates/{{.CertificateID}}"><code>{{short .CertificateID}}…</code></a></td></tr>{{else}}<tr><td colspan="11" class="muted">No certificate matches.</td></tr>{{end}}
</table>{{with .Pager}}{{template "pager" .}}{{end}}{{template "foot"}}{{end}}

{{define "hosts"}}{{template "head" .}}<h1>Hosts</h1>
<p class="muted">Every server certificates arrived for, by its SMBIOS serial (chassis or board serial where the system serial is blank), most recent first.</p>
<form method="get" action="/hosts" id="hosts-form"><label>Host serial, hostname or job <input name="q" id="hosts-q" value="{{.Q}}"></label> <button id="hosts-submit">Filter</button></form>
{{if .Error}}<p class="msg err">{{.Error}}</p>{{end}}
{{with .Pager}}{{template "pager" .}}{{end}}
<table id="hosts"><tr><th>Host serial</th><th>Hostname</th><th>Certificates arrived</th><th>Drives</th><th>Erased</th><th>Not erased</th><th>Pending</th><th>Approved</th><th>Rejected</th><th>Jobs</th><th>Last received</th></tr>
{{range .Hosts}}<tr><td><a class="host-link" href="/?host={{.HostSerial}}">{{if .HostSerial}}{{.HostSerial}}{{else}}(no serial){{end}}</a></td><td>{{.Hostname}}</td><td class="cert-count">{{.Certificates}}</td><td>{{.Drives}}</td>
<td class="ok">{{.Erased}}</td><td {{if .NotErased}}class="bad"{{end}}>{{.NotErased}}</td><td>{{.Pending}}</td><td>{{.Approved}}</td><td {{if .Rejected}}class="bad"{{end}}>{{.Rejected}}</td><td>{{.Jobs}}</td><td>{{ts .LastReceived}}</td></tr>{{else}}<tr><td colspan="11" class="muted">No host.</td></tr>{{end}}</table>
{{template "foot"}}{{end}}

{{define "certificate"}}{{template "head" .}}{{$v := .V}}{{$c := $v.C}}{{$p := $v.P}}
<h1>{{$v.Drive}} <span class="muted small">{{$v.SerialLabel}} {{$v.Serial}}</span></h1>
{{if .Msg}}<p class="msg" id="msg">{{.Msg}}</p>{{end}}
<div class="verdict {{$c.Status}}" id="verdict"><span class="{{$c.Status}}" id="cert-status">{{$c.Status}}</span> — {{$v.Summary}}
{{if $p.Disposition}}<br><span class="small">Next for this medium: <b>{{$p.Disposition}}</b>.</span>{{end}}</div>
<div class="grid"><div>
<h2>Decision basis</h2><table class="kv" id="basis">
<tr><th>Status and why</th><td><b class="{{$c.Status}}">{{$c.Status}}</b>: {{$p.StatusReason}}</td></tr>
<tr><th>Technique</th><td>{{$p.Sanitization.TechniqueName}} <span class="muted">({{$p.Sanitization.Technique}})</span>{{if $p.Sanitization.Reference}}<br><span class="small muted">{{$p.Sanitization.Reference}}</span>{{end}}</td></tr>
<tr><th>Category</th><td id="category">{{upper (print $p.Sanitization.Category)}}</td></tr>
{{if $p.Sanitization.Method.Description}}<tr><th>Method</th><td>{{$p.Sanitization.Method.Description}}</td></tr>{{end}}
{{range $v.Verification}}<tr><th>Verification: {{.K}}</th><td>{{.V}}</td></tr>{{end}}
{{if $p.Errors}}<tr><th>Errors</th><td class="bad">{{range $p.Errors}}{{.}}<br>{{end}}</td></tr>{{end}}
</table>
<h2>Hidden areas (HPA/DCO)</h2><table class="kv" id="hidden">{{range $v.Hidden}}<tr><th>{{.K}}</th><td>{{.V}}</td></tr>{{end}}
{{range $v.Capacities}}<tr><th>Capacity check</th><td><code>{{.}}</code></td></tr>{{end}}</table>
</div><div>
<h2>Trust</h2><table class="kv" id="trust">
{{range $v.Signatures}}<tr><th>Signature: {{.Signer}}</th><td class="{{if .OK}}ok{{else}}bad{{end}} sig-status">{{if .OK}}VALID{{else}}INVALID{{end}}: {{.Note}}<br><span class="small muted">key {{short .KeyID}}</span></td></tr>{{end}}
<tr><th>Inclusion in the log</th><td id="inclusion-status" class="{{if $v.Check.InclusionOK}}ok{{else}}bad{{end}}">{{if $v.Check.InclusionOK}}VERIFIED{{else}}FAILED{{end}}: {{$v.Check.InclusionNote}}</td></tr>
<tr><th>Log entry</th><td>{{$c.LogIndex}}, received {{ts $c.Received}}</td></tr>
<tr><th>Validation</th><td id="validation-status" class="{{$c.Validation}}">{{.Validation}}</td></tr>
</table>
<h2>Drive and host</h2><table class="kv" id="drive">
<tr><th>Drive</th><td>{{$v.Drive}}</td></tr>
<tr><th>{{$v.SerialLabel}}</th><td id="cert-serial">{{$v.Serial}}</td></tr>
{{if $p.Media.WWN}}<tr><th>WWN / EUI</th><td>{{$p.Media.WWN}}</td></tr>{{end}}
{{if $v.Subject}}<tr><th>Subject</th><td><code>{{$v.Subject}}</code></td></tr>{{end}}
{{if $v.Capacity}}<tr><th>Capacity</th><td>{{$v.Capacity}}</td></tr>{{end}}
<tr><th>Medium</th><td>{{$p.Media.Type}} over {{$p.Media.Transport}}{{if $p.Media.Firmware}}, firmware {{$p.Media.Firmware}}{{end}}</td></tr>
{{if $p.Personnel.AssetTag}}<tr><th>Asset tag</th><td>{{$p.Personnel.AssetTag}}</td></tr>{{end}}
<tr><th>Host</th><td>{{if $c.HostSerial}}<a href="/?host={{$c.HostSerial}}">{{$c.HostSerial}}</a>{{else}}<span class="muted">no serial</span>{{end}} {{$p.Host.Hostname}} {{$p.Host.SystemVendor}} {{$p.Host.SystemProduct}}</td></tr>
<tr><th>Who, where</th><td>{{$p.Personnel.Operator}}{{if $p.Personnel.Organization}}, {{$p.Personnel.Organization}}{{end}}{{if $p.Personnel.Site}}, site {{$p.Personnel.Site}}{{end}}{{if $p.Personnel.Job}}, job <a href="/?job={{$p.Personnel.Job}}">{{$p.Personnel.Job}}</a>{{end}}</td></tr>
<tr><th>When</th><td>{{ts $p.Started}} – {{ts $p.Ended}}</td></tr>
<tr><th>Tool</th><td>{{$p.Tool.Name}} {{$p.Tool.Version}}{{if $p.Tool.ImageDigest}} <span class="small muted">image {{short $p.Tool.ImageDigest}}</span>{{end}}</td></tr>
</table></div></div>
{{with $v.Firmware}}<h2>Firmware erase evidence</h2><table class="kv" id="firmware">
<tr><th>Operation</th><td>{{.Operation}}{{range .Parameters}} <code>{{.}}</code>{{end}}</td></tr>
<tr><th>Drive-reported states</th><td>{{range $i, $s := .States}}{{if $i}} → {{end}}{{$s}}{{end}} {{if .InProgressSeen}}<span class="ok">(in progress seen)</span>{{else}}<span class="bad">(never seen in progress)</span>{{end}}</td></tr>
{{if .Completion}}<tr><th>Completion</th><td>{{.Completion}}</td></tr>{{end}}
{{range .Proof}}<tr><th>Canaries and fingerprints: {{.K}}</th><td>{{.V}}</td></tr>{{end}}
{{if .Note}}<tr><th>What read-back shows</th><td>{{.Note}}</td></tr>{{end}}
{{range .Notes}}<tr><th>Note</th><td>{{.}}</td></tr>{{end}}
</table>{{if .Commands}}<details><summary>{{len .Commands}} command(s) sent to the drive</summary><table><tr><th>Time</th><th>Command</th><th>Fields</th><th>Result</th><th>Took</th></tr>
{{range .Commands}}<tr><td>{{.At}}</td><td>{{.Name}}</td><td><code>{{.Params}}</code></td><td>{{.Result}}</td><td>{{.Took}}</td></tr>{{end}}</table></details>{{end}}{{end}}

<h2>Validation (NIST SP 800-88 Rev. 2)</h2>
{{if $v.Validations}}<table id="validations"><tr><th>Entry</th><th>Time</th><th>Auditor</th><th>Decision</th><th>Comment</th><th>Auditor's signature</th></tr>
{{range $v.Validations}}<tr><td>{{.LogIndex}}</td><td>{{ts .Time}}</td><td>{{.Auditor}}</td><td class="{{.Decision}}">{{.Decision}}</td><td>{{.Comment}}</td>
<td class="{{if .SigOK}}ok{{else}}bad{{end}} val-sig">{{if .SigOK}}VALID{{else if .Signed}}INVALID{{else}}NONE{{end}}: {{.SigNote}}{{if .ProofURL}} · <a href="{{.ProofURL}}">offline proof</a>{{end}}</td></tr>{{end}}</table>
{{else}}<p class="muted">Not yet reviewed by an auditor.</p>{{end}}
{{if .CanValidate}}<form method="post" action="/certificates/{{$c.CertificateID}}/validate" id="validate-form"><fieldset><legend>Your decision, signed with your passkey</legend>
<p id="validate-msg" hidden></p>
{{if not .Passkeys}}<p class="msg err">Passkeys are off: the store must be started with <code>--url https://HOSTNAME:PORT</code>.</p>
{{else if not .HasPasskey}}<p class="msg err" id="need-passkey">Register a passkey or security key on <a href="/account">your account page</a> first: every validation is signed with it.</p>{{end}}
<label><input type="radio" name="decision" value="approved" id="approve" required> Approve: the evidence shows the medium was sanitized as stated</label><br>
<label><input type="radio" name="decision" value="rejected" id="reject"> Reject</label><br>
<label>Comment (required to reject)<br><textarea name="comment" id="comment" rows="2" cols="80" maxlength="2000"></textarea></label><br>
<button id="validate-submit">Sign with passkey and record</button></fieldset></form>{{end}}

<h2>Downloads</h2><p><a id="pdf-link" href="/certificates/{{$c.CertificateID}}/pdf">PDF</a> · <a id="envelope-link" href="/v1/certificates/{{$c.CertificateID}}/envelope">signed certificate (JSON)</a> · <a href="/v1/certificates/{{$c.CertificateID}}/receipt">receipt</a>
<span class="muted small">Certificate <code>{{$c.CertificateID}}</code></span></p>
<details id="raw"><summary>Every field of the certificate ({{len $v.Fields}}; empty ones left out)</summary><table id="fields" class="kv">{{range $v.Fields}}<tr><th>{{.Key}}</th><td><code>{{.Value}}</code></td></tr>{{end}}</table></details>
<details><summary>Signed envelope (DSSE)</summary><pre id="envelope">{{$v.Envelope}}</pre></details>
<details><summary>Checkpoint at receipt</summary><pre>{{$c.Receipt.Checkpoint}}</pre></details>
{{template "foot"}}{{end}}

{{define "events"}}{{template "head" .}}<h1>Audit events</h1>
<form method="get" action="/events" id="events-form" class="filters"><fieldset><legend>Filter</legend>
<label>Type <select name="type" id="ev-type"><option value="">any</option>{{$t := .Q.Get "type"}}
<option value="login" {{if eq $t "login"}}selected{{end}}>login…</option><option value="admin." {{if eq $t "admin."}}selected{{end}}>admin.…</option><option value="certificate." {{if eq $t "certificate."}}selected{{end}}>certificate.…</option>
{{range .Types}}<option {{if eq $t .}}selected{{end}}>{{.}}</option>{{end}}</select></label>
<label>User <input name="user" id="ev-user" value="{{.Q.Get "user"}}" size="12"></label>
<label>Result <input name="result" id="ev-result" value="{{.Q.Get "result"}}" size="9"></label>
<label>From <input type="date" name="from" id="ev-from" value="{{.Q.Get "from"}}"></label>
<label>to <input type="date" name="to" id="ev-to" value="{{.Q.Get "to"}}"></label>
<button id="events-submit">Filter</button> <a href="/events">clear</a> · <a id="events-csv" href="{{.CSV}}">CSV</a></fieldset></form>
{{if .Error}}<p class="msg err">{{.Error}}</p>{{end}}
<p><span id="ev-total">{{.Total}}</span> event(s).</p>{{with .Pager}}{{template "pager" .}}{{end}}
<table id="events"><colgroup><col style="width:4.5em"><col style="width:9.5em"><col style="width:12em"><col style="width:11em"><col style="width:13em"><col style="width:6em"><col><col style="width:7.5em"></colgroup>
<tr><th>Entry</th><th>Time (UTC)</th><th>Type</th><th>Who</th><th>What</th><th>Result</th><th>Detail</th><th>From</th></tr>
{{range .Events}}<tr><td>{{.LogIndex}}</td><td>{{day .Time}} {{hms .Time}}</td><td>{{.Type}}</td><td>{{.Subject}}</td><td>{{.Object}}</td><td class="{{.Result}}">{{.Result}}</td><td>{{.Detail}}</td><td>{{.Remote}}</td></tr>{{else}}<tr><td colspan="8" class="muted">No event matches.</td></tr>{{end}}</table>
{{with .Pager}}{{template "pager" .}}{{end}}{{template "foot"}}{{end}}

{{define "admin"}}{{template "head" .}}<h1>Administration</h1>
{{if .Msg}}<div class="msg{{if .Failed}} err{{end}}" id="msg">{{.Msg}}
{{if .Secret}}<div class="secret"><code id="secret">{{.Secret}}</code>{{if .QR}}<br><img id="totp-qr" src="{{.QR}}" alt="TOTP QR code for {{.TOTPUser}}" width="220" height="220"><br><span class="small">Scan with the authenticator app of {{.TOTPUser}}, or enter the secret above. It is not shown again.</span>{{end}}</div>{{end}}</div>{{end}}
<h2>Users</h2><table id="users"><tr><th>Name</th><th>Role</th><th>State</th><th>Passkeys</th><th>Actions</th></tr>
{{range .Users}}<tr id="user-{{.Name}}"><td>{{.Name}}</td><td>{{.Role}}</td><td class="state">{{if .Disabled}}<span class="bad">disabled</span>{{else if .LockedNow}}<span class="bad">locked</span>{{else}}active{{end}}{{if .Failed}} ({{.Failed}} failed logins){{end}}{{if .MustPW}} <span class="muted small">must change password</span>{{end}}</td><td>{{.Passkeys}}</td>
<td><nav class="actions">{{if .LockedNow}}<form method="post" action="/admin/unlock"><input type="hidden" name="csrf" value="{{$.CSRF}}"><input type="hidden" name="name" value="{{.Name}}"><button class="unlock">Unlock</button></form>{{end}}
{{if .Disabled}}<form method="post" action="/admin/enable"><input type="hidden" name="csrf" value="{{$.CSRF}}"><input type="hidden" name="name" value="{{.Name}}"><button class="enable">Enable</button></form>{{else}}<form method="post" action="/admin/disable"><input type="hidden" name="csrf" value="{{$.CSRF}}"><input type="hidden" name="name" value="{{.Name}}"><button class="disable">Disable</button></form>{{end}}
{{if .Role.NeedsTOTP}}<form method="post" action="/admin/totp"><input type="hidden" name="csrf" value="{{$.CSRF}}"><input type="hidden" name="name" value="{{.Name}}"><button class="totp-reset">Reset TOTP</button></form>
{{if .Passkeys}}<form method="post" action="/admin/passkeys"><input type="hidden" name="csrf" value="{{$.CSRF}}"><input type="hidden" name="name" value="{{.Name}}"><button class="passkey-reset">Revoke passkeys</button></form>{{end}}{{end}}
<form method="post" action="/admin/password"><input type="hidden" name="csrf" value="{{$.CSRF}}"><input type="hidden" name="name" value="{{.Name}}"><input name="password" type="password" placeholder="new password" size="12" required><button class="password-reset">Reset password</button></form></nav></td></tr>{{end}}</table>
<form method="post" action="/admin/user" id="new-user"><fieldset><legend>New user (chooses their own password at first login)</legend><input type="hidden" name="csrf" value="{{.CSRF}}">
<input name="name" id="new-user-name" placeholder="name" required> <input name="password" id="new-user-password" type="password" placeholder="initial password (8+ chars, 3 kinds)" required size="28">
<select name="role" id="new-user-role"><option>operator</option><option>auditor</option><option>admin</option></select> <button id="new-user-submit">Create</button></fieldset></form>

<h2>API tokens (machines)</h2><table id="api-tokens"><tr><th>ID</th><th>Name</th><th>User</th><th>Scopes</th><th>Created</th><th>Expires</th><th>State</th><th></th></tr>{{range .Tokens}}<tr><td><code>{{.ID}}</code></td><td>{{.Name}}</td><td>{{.User}}</td><td>{{range $i, $s := .Scopes}}{{if $i}}, {{end}}{{$s}}{{end}}</td><td>{{ts .Created}}</td><td>{{if zero .Expires}}never{{else}}{{ts .Expires}}{{end}}</td><td>{{if .Revoked}}revoked{{else if past .Expires}}expired{{else}}active{{end}}</td>
<td>{{if not .Revoked}}<form class="inline" method="post" action="/admin/api-token-revoke"><input type="hidden" name="csrf" value="{{$.CSRF}}"><input type="hidden" name="id" value="{{.ID}}"><button class="revoke-token">Revoke</button></form>{{end}}</td></tr>{{end}}</table>
<form method="post" action="/admin/api-token" id="new-api-token"><fieldset><legend>New API token</legend><input type="hidden" name="csrf" value="{{.CSRF}}">
<input name="user" id="api-token-user" placeholder="user" required> <input name="tokenname" id="api-token-name" placeholder="token name" required> valid for <input name="ttl" value="2160h" size="7">
scopes <label><input type="checkbox" name="scope" value="submit" id="api-token-scope-submit"> submit certificates</label> <label><input type="checkbox" name="scope" value="read" id="api-token-scope-read"> read</label> <label><input type="checkbox" name="scope" value="admin" id="api-token-scope-admin"> admin</label> (none ticked: read only; never more than the user's role) <button id="api-token-submit">Create</button></fieldset></form>

<h2>Enrollment tokens (boot agents register their key with one)</h2><table id="enrollment-tokens"><tr><th>ID</th><th>Job</th><th>Uses</th><th>Created</th><th>Expires</th><th>By</th><th></th></tr>{{range .Enrollments}}<tr><td><code>{{.ID}}</code></td><td>{{.Job}}</td><td>{{.Uses}} of {{.MaxUses}}</td><td>{{ts .Created}}</td><td>{{ts .Expires}}</td><td>{{.CreatedBy}}</td>
<td>{{if not (past .Expires)}}<form class="inline" method="post" action="/admin/enrollment-token-revoke"><input type="hidden" name="csrf" value="{{$.CSRF}}"><input type="hidden" name="id" value="{{.ID}}"><button class="revoke-enrollment">Revoke</button></form>{{else}}<span class="muted">ended</span>{{end}}</td></tr>{{end}}</table>
<form method="post" action="/admin/enrollment-token" id="new-enrollment"><fieldset><legend>New enrollment token</legend><input type="hidden" name="csrf" value="{{.CSRF}}">
job <input name="job" id="enrollment-job" placeholder="job" required> valid for <input name="ttl" value="1h" size="6"> uses <input name="uses" value="1" size="3"> <button id="enrollment-submit">Mint</button></fieldset></form>

<h2>Trusted station keys</h2><table id="station-keys"><tr><th>Key ID</th><th>Name</th><th>Added by</th><th>Added</th><th>State</th><th></th></tr>{{range .Keys}}<tr><td><code>{{short .KeyID}}</code></td><td>{{.Name}}</td><td>{{.AddedBy}}</td><td>{{ts .Added}}</td><td>{{if .Revoked}}revoked{{else}}trusted{{end}}</td>
<td>{{if not .Revoked}}<form class="inline" method="post" action="/admin/station-key-revoke"><input type="hidden" name="csrf" value="{{$.CSRF}}"><input type="hidden" name="id" value="{{.KeyID}}"><button class="revoke-key">Revoke</button></form>{{end}}</td></tr>{{end}}</table>
<form method="post" action="/admin/station-key" id="new-station-key"><fieldset><legend>Trust a station key (lethe keygen's lethe.pub)</legend><input type="hidden" name="csrf" value="{{.CSRF}}">
<input name="keyname" id="station-key-name" placeholder="name, e.g. station-fra2-01" required><br><textarea name="publicKey" id="station-key-pem" rows="4" cols="70" placeholder="-----BEGIN PUBLIC KEY-----" required></textarea><br><button id="station-key-submit">Trust</button></fieldset></form>
{{template "foot"}}{{end}}

{{define "account"}}{{template "head" .}}<h1>Account {{.User}}</h1>{{if .Msg}}<p class="msg{{if .Failed}} err{{end}}" id="msg">{{.Msg}}</p>{{end}}
{{if .Must}}<p class="msg err" id="must-change">Your password was set by an administrator (or at the store's first start). Choose your own before you continue.</p>{{end}}
<form method="post" action="/account/password" id="password-form"><fieldset><legend>Change password</legend><input type="hidden" name="csrf" value="{{.CSRF}}">
<p><input name="old" id="old-password" type="password" placeholder="current password" autocomplete="current-password" required></p>
<p><input name="new" id="new-password" type="password" placeholder="new password (8+ characters, 3 kinds)" autocomplete="new-password" required size="34"></p>
<p><input name="new2" id="new-password2" type="password" placeholder="new password again" autocomplete="new-password" required size="34"></p><button id="password-submit">Change</button></fieldset></form>
{{if .CanPasskey}}<h2>Passkeys and security keys</h2>
<p class="muted">A passkey is your second factor at login (instead of the one-time code), and every validation you record is signed with it: nobody else, including the store's operator, can make that signature. Download each key's public part and keep it: <code>lethe audit verify-validation --passkey FILE</code> then checks your validations independently of this store.</p>
{{if .Passkeys}}<table id="passkeys"><tr><th>Name</th><th>Credential</th><th>Registered</th><th>Log entry</th><th>State</th><th></th></tr>{{range .Passkeys}}<tr><td>{{.Name}}</td><td><code>{{short .ID}}</code></td><td>{{ts .Created}}</td><td>{{.LogIndex}}</td><td>{{if .Revoked}}revoked{{else}}active{{end}}</td><td>{{if not .Revoked}}<a href="/account/passkeys/{{.ID}}.json" class="passkey-export">public key (JSON)</a>{{end}}</td></tr>{{end}}</table>{{end}}
{{if .PasskeysOn}}<p id="passkey-msg" hidden></p><p><label>Name <input id="passkey-name" placeholder="e.g. YubiKey 5 blue" maxlength="64"></label> <button type="button" id="passkey-register">Register a passkey or security key</button></p>
<p class="muted small">Relying party: {{.RPID}}</p>{{else}}<p class="msg err">Passkeys are off: the store must be started with <code>--url https://HOSTNAME:PORT</code> (WebAuthn needs a host name and a certificate the browser trusts).</p>{{end}}{{end}}
{{template "foot"}}{{end}}
`))
