// lethe audit: the WebAuthn glue the server-rendered pages need
// (navigator.credentials); no framework. Served from the app itself, so
// the Content-Security-Policy stays "script-src 'self'".
"use strict";

function csrfToken() {
  const m = document.querySelector('meta[name="csrf"]');
  return m ? m.content : "";
}

async function postJSON(url, body) {
  const r = await fetch(url, {
    method: "POST", credentials: "same-origin",
    headers: {"Content-Type": "application/json", "X-CSRF-Token": csrfToken()},
    body: JSON.stringify(body),
  });
  let j = {};
  try { j = await r.json(); } catch (e) { j = {error: r.status + " " + r.statusText}; }
  if (!r.ok) { throw new Error(j.error || (r.status + " " + r.statusText)); }
  return j;
}

function say(id, text, bad) {
  const el = document.getElementById(id);
  if (!el) { return; }
  el.textContent = text;
  el.hidden = false;
  el.className = bad ? "msg err" : "msg";
}

function supported(out) {
  if (window.PublicKeyCredential && PublicKeyCredential.parseRequestOptionsFromJSON) { return true; }
  say(out, "This browser cannot use passkeys here (WebAuthn needs HTTPS with a trusted certificate and a host name).", true);
  return false;
}

async function passkeyGet(options) {
  const o = PublicKeyCredential.parseRequestOptionsFromJSON(options.publicKey);
  const c = await navigator.credentials.get({publicKey: o});
  return c.toJSON();
}

async function passkeyCreate(options) {
  const o = PublicKeyCredential.parseCreationOptionsFromJSON(options.publicKey);
  const c = await navigator.credentials.create({publicKey: o});
  return c.toJSON();
}

// Account page: register a passkey or security key.
function wireRegister() {
  const b = document.getElementById("passkey-register");
  if (!b) { return; }
  b.addEventListener("click", async () => {
    if (!supported("passkey-msg")) { return; }
    b.disabled = true;
    try {
      say("passkey-msg", "Follow your browser or security key…", false);
      const begin = await postJSON("/account/passkeys/begin", {});
      const cred = await passkeyCreate(begin.options);
      const name = document.getElementById("passkey-name").value;
      const r = await postJSON("/account/passkeys/finish", {ceremony: begin.ceremony, name: name, credential: cred});
      window.location.assign(r.redirect);
    } catch (e) {
      say("passkey-msg", "Passkey not registered: " + e.message, true);
      b.disabled = false;
    }
  });
}

// Login page: the passkey as second factor instead of the code.
function wireLogin() {
  const b = document.getElementById("login-passkey");
  if (!b) { return; }
  b.addEventListener("click", async () => {
    if (!supported("login-msg")) { return; }
    const form = document.getElementById("login-form");
    if (!form.reportValidity()) { return; }
    b.disabled = true;
    try {
      const begin = await postJSON("/login/passkey", {user: document.getElementById("user").value});
      const cred = await passkeyGet(begin.options);
      document.getElementById("ceremony").value = begin.ceremony;
      document.getElementById("assertion").value = JSON.stringify(cred);
      form.submit();
    } catch (e) {
      say("login-msg", "Passkey login failed: " + e.message, true);
      b.disabled = false;
    }
  });
}

// Certificate page: sign the decision with the passkey.
function wireValidate() {
  const form = document.getElementById("validate-form");
  if (!form) { return; }
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!supported("validate-msg")) { return; }
    const chosen = form.querySelector('input[name="decision"]:checked');
    const comment = document.getElementById("comment").value;
    if (!chosen) { say("validate-msg", "Choose approve or reject first.", true); return; }
    if (chosen.value === "rejected" && comment.trim() === "") {
      say("validate-msg", "A rejection needs a reason in the comment.", true);
      document.getElementById("comment").focus();
      return;
    }
    const btn = document.getElementById("validate-submit");
    btn.disabled = true;
    try {
      const base = form.getAttribute("action");
      const begin = await postJSON(base + "/begin", {decision: chosen.value, comment: comment});
      say("validate-msg", "Sign with your passkey: " + begin.summary, false);
      const cred = await passkeyGet(begin.options);
      const r = await postJSON(base + "/finish", {ceremony: begin.ceremony, credential: cred});
      window.location.assign(r.redirect);
    } catch (e) {
      say("validate-msg", "Not recorded: " + e.message, true);
      btn.disabled = false;
    }
  });
}

wireRegister();
wireLogin();
wireValidate();
